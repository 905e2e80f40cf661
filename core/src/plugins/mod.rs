//! Loading `[rpcinterface:x]` and `result_handler` plugins through the
//! stable ABI. The one place in core that names the builtin plugin crates.
