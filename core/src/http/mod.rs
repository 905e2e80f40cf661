//! HTTP servers on unix and inet sockets: auth, `/RPC2`, log tails.
