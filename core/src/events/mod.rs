//! Event types, the event bus, eventlistener pools and their protocol.
