//! Command lines parsed the way Python's getopt does it, as the reference
//! does: long options accept any unique prefix and parsing stops at the first
//! non-option argument.
