//! Child and main logs: capture, rotation, capture mode and tails. Child
//! output never passes through `tracing`.
