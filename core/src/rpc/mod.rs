//! XML-RPC dispatch: the run-time method table, `system.*` and faults.
