/*
 * supervisor_plugin.h: the C interface of supervisor-rs plugins, version 1.
 *
 * A plugin written in C (or any language that can export a C function) is a
 * shared library exporting
 *
 *     const sv_plugin *supervisor_plugin_c(void);
 *
 * supervisord loads it from an [rpcinterface:x] section exactly as it loads
 * a Rust plugin, and tells the two apart by that symbol, never by the file's
 * name:
 *
 *     [rpcinterface:hello]
 *     supervisor.rpcinterface_factory = ./libhello_c.so:make_hello
 *     greeting = Hello
 *
 * The plugin's methods are then called over XML-RPC as hello.<method>. The
 * plugin has the powers of a Rust namespace plugin: a method table with help
 * and signatures, calls with XML-RPC values, faults, deferred replies that
 * wait for the daemon's commands, the host handle (snapshot reads and
 * commands) and the section's other keys as its configuration.
 *
 * VERSIONS. sv_plugin.abi_version must be SV_ABI_VERSION as this header
 * defines it; a plugin built with another version is refused at start-up
 * (and by supervisord --test-config) with one line naming the file and both
 * versions. Within a version, the daemon only ever appends members to
 * sv_api; a plugin may check sv_api.size before using a member that a later
 * header added.
 *
 * WHO FREES WHAT. The daemon allocates and frees every sv_value, sv_reply
 * and sv_outcome; a plugin never calls free() on one.
 *   - Parameters and outcomes are borrowed: valid until the function they
 *     were passed to returns. Pointers read out of a value (as_string,
 *     item, member_name, get) are valid as long as that value is not
 *     changed or freed.
 *   - A value made with new_* (and the value returned by process_infos and
 *     identification) belongs to the plugin until it gives it away: to
 *     push/set (into a parent), or to reply_value. A value never given away
 *     must be freed with value_free.
 *   - A reply made with reply_* belongs to the daemon as soon as the plugin
 *     returns it from call, finish or resume. Return each reply once.
 *   - Strings the plugin passes in (names, texts) are copied; the plugin
 *     keeps them. Strings are UTF-8; invalid sequences become U+FFFD.
 *   - The method table and the config entries given to a factory are copied
 *     or valid only during the factory call, respectively.
 *   - The state of a namespace is the plugin's; the daemon calls destroy (if
 *     not NULL) once, after the last call and deferred reply is over.
 *
 * THREADS. call may run on several threads at once: guard shared state.
 * The continuation of one deferred reply (finish, resume) runs on one thread
 * at a time, maybe not the one that created it. A method flagged
 * SV_RETURNS_AT_ONCE promises never to wait (no locks held long, no I/O on
 * sockets or slow disks): the daemon then calls it on its event loop, as
 * cheaply as a builtin method; any other method is called off the loop.
 *
 * ERRORS. C cannot panic; a method answers an error with reply_fault, whose
 * code is one of the SV_FAULT_* codes (clients branch on them). A call that
 * returns NULL answers the fault FAILED naming the plugin and method. A
 * factory that fails returns nonzero and writes one line into its error
 * buffer: supervisord refuses to start and prints it with the section.
 */
#ifndef SUPERVISOR_PLUGIN_H
#define SUPERVISOR_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this interface. */
#define SV_ABI_VERSION 1u

/* Opaque types, owned by the daemon (see WHO FREES WHAT). */
typedef struct sv_value sv_value;
typedef struct sv_reply sv_reply;
typedef struct sv_outcome sv_outcome;
typedef struct sv_host sv_host;

/* The kinds of XML-RPC value (sv_api.kind). */
enum {
    SV_NIL = 0,      /* <nil/> */
    SV_INT = 1,      /* <int>: 32 bits */
    SV_BOOL = 2,     /* <boolean> */
    SV_STRING = 3,   /* <string> */
    SV_DOUBLE = 4,   /* <double> */
    SV_DATETIME = 5, /* <dateTime.iso8601>, as its text (20261124T01:02:03) */
    SV_BASE64 = 6,   /* <base64>, as its decoded bytes */
    SV_ARRAY = 7,    /* <array> */
    SV_STRUCT = 8    /* <struct>, members in the order they were set */
};

/* Supervisor's fault codes (supervisor/xmlrpc.py's Faults). */
enum {
    SV_FAULT_UNKNOWN_METHOD = 1,
    SV_FAULT_INCORRECT_PARAMETERS = 2,
    SV_FAULT_BAD_ARGUMENTS = 3,
    SV_FAULT_SIGNATURE_UNSUPPORTED = 4,
    SV_FAULT_SHUTDOWN_STATE = 6,
    SV_FAULT_BAD_NAME = 10,
    SV_FAULT_BAD_SIGNAL = 11,
    SV_FAULT_NO_FILE = 20,
    SV_FAULT_NOT_EXECUTABLE = 21,
    SV_FAULT_FAILED = 30,
    SV_FAULT_ABNORMAL_TERMINATION = 40,
    SV_FAULT_SPAWN_ERROR = 50,
    SV_FAULT_ALREADY_STARTED = 60,
    SV_FAULT_NOT_RUNNING = 70,
    SV_FAULT_ALREADY_ADDED = 90,
    SV_FAULT_STILL_RUNNING = 91,
    SV_FAULT_CANT_REREAD = 92
};

/* The main log's levels (sv_api.log). */
enum {
    SV_LOG_CRITICAL = 0,
    SV_LOG_ERROR = 1,
    SV_LOG_WARN = 2,
    SV_LOG_INFO = 3,
    SV_LOG_DEBUG = 4,
    SV_LOG_TRACE = 5,
    SV_LOG_BLATHER = 6
};

/* Which log a log command is about (sv_api.read_log, tail_log, clear_log). */
enum {
    SV_LOG_MAIN = 0, /* the daemon's main log: group and name are ignored */
    SV_LOG_STDOUT = 1,
    SV_LOG_STDERR = 2
};

/* Method flags (sv_method.flags). */
enum {
    /* The method changes nothing: users with the read-only role may call
       it. Without it, a read-only user is refused the method. */
    SV_READS_ONLY = 1u << 0,
    /* The method never waits (see THREADS). */
    SV_RETURNS_AT_ONCE = 1u << 1
};

/* A deferred reply's continuation: called once per ticket as each
   completes, with that ticket's outcome (borrowed). Return NULL to keep
   waiting, or the final reply (which may itself be deferred). */
typedef sv_reply *(*sv_resume_fn)(void *data, uint64_t ticket, const sv_outcome *outcome);
/* Called instead of resume when the reply waits on no ticket at all. */
typedef sv_reply *(*sv_finish_fn)(void *data);

/* What the daemon offers: one table, valid for the life of the process.
   Every function accepts NULL where it takes a pointer (and then does
   nothing, or answers 0, NULL or nil). */
typedef struct sv_api {
    uint32_t abi_version; /* SV_ABI_VERSION of the daemon */
    uint32_t size;        /* sizeof(sv_api) in the daemon */

    /* Reading values. */
    uint32_t (*kind)(const sv_value *value);
    int32_t (*as_int)(const sv_value *value);   /* 0 unless SV_INT */
    int (*as_bool)(const sv_value *value);      /* 0 unless a true SV_BOOL */
    double (*as_double)(const sv_value *value); /* 0 unless SV_DOUBLE (or SV_INT) */
    /* The text of a SV_STRING or SV_DATETIME, or the bytes of a SV_BASE64,
       NUL-terminated; its length (without the NUL) in *len if len is not
       NULL. NULL for any other kind. */
    const char *(*as_string)(const sv_value *value, size_t *len);
    /* Items of an array, members of a struct, 0 for anything else. */
    size_t (*len)(const sv_value *value);
    /* The index-th item of an array, or value of a struct's index-th member;
       NULL out of range. */
    const sv_value *(*item)(const sv_value *value, size_t index);
    /* The name of a struct's index-th member; NULL out of range. */
    const char *(*member_name)(const sv_value *value, size_t index);
    /* The value of a struct's first member called name; NULL if none. */
    const sv_value *(*get)(const sv_value *value, const char *name);

    /* Building values (owned by the plugin until given away). */
    sv_value *(*new_nil)(void);
    sv_value *(*new_int)(int32_t number);
    sv_value *(*new_bool)(int truth);
    sv_value *(*new_double)(double number);
    /* len == SIZE_MAX: text is NUL-terminated. */
    sv_value *(*new_string)(const char *text, size_t len);
    sv_value *(*new_datetime)(const char *text);
    sv_value *(*new_base64)(const uint8_t *bytes, size_t len);
    sv_value *(*new_array)(void);
    sv_value *(*new_struct)(void);
    /* Append item to an array; takes item (freed if array is not one). */
    void (*push)(sv_value *array, sv_value *item);
    /* Append a member to a struct; takes value (freed if structure is not
       one). Members keep this order on the wire. */
    void (*set)(sv_value *structure, const char *name, sv_value *value);
    void (*value_free)(sv_value *value);

    /* Replies (given to the daemon by returning them). */
    sv_reply *(*reply_value)(sv_value *value); /* takes value; NULL is nil */
    /* A fault as Supervisor raises RPCError(code, extra): its string is the
       code's name ("BAD_NAME"), or "NAME: extra" when extra is not NULL. */
    sv_reply *(*reply_fault)(int32_t code, const char *extra);
    /* A fault whose string is string exactly (to pass on an outcome's
       fault: reply_fault_string(outcome_fault_code(o),
       outcome_fault_string(o))). */
    sv_reply *(*reply_fault_string)(int32_t code, const char *string);
    /* Wait for the daemon's commands: tickets (copied) are what the host's
       commands returned. resume (or finish, with no tickets) gives the
       answer. free_data (if not NULL) is called once with data when the
       reply is over, answered or abandoned. */
    sv_reply *(*reply_deferred)(const uint64_t *tickets, size_t count, sv_resume_fn resume,
                                sv_finish_fn finish, void *data, void (*free_data)(void *data));

    /* Outcomes of commands (borrowed, during resume). */
    /* The fault the command ended with, 0 when it was carried out. */
    int32_t (*outcome_fault_code)(const sv_outcome *outcome);
    /* Its fault string, NULL when carried out. */
    const char *(*outcome_fault_string)(const sv_outcome *outcome);
    /* The data a command produced (log text, ...); nil when none. */
    const sv_value *(*outcome_value)(const sv_outcome *outcome);
    /* For process commands, the process as it was when the command
       completed (a struct as process_infos' items); NULL otherwise. */
    const sv_value *(*outcome_process)(const sv_outcome *outcome);

    /* The host: reads, from the latest published snapshot, never waiting.
       Not to be called from a factory (the daemon is not running yet). */
    /* getState's code: 2 FATAL, 1 RUNNING, 0 RESTARTING, -1 SHUTDOWN. */
    int32_t (*supervisor_state)(const sv_host *host);
    sv_value *(*identification)(const sv_host *host); /* a string, the plugin's */
    uint32_t (*supervisor_pid)(const sv_host *host);
    int64_t (*now)(const sv_host *host); /* the daemon's clock, UNIX seconds */
    /* Every process of every active group, in no particular order: an
       array (the plugin's) of structs with the members group, name,
       state (int), statename, pid, start, stop, exitstatus, spawnerr,
       stdout_logfile, stderr_logfile. */
    sv_value *(*process_infos)(const sv_host *host);

    /* The host: commands. Each returns a ticket at once; defer on it to
       learn its outcome. What each reports and its faults are those of the
       Rust SDK's Host trait (supervisor_sdk::host::Host). */
    uint64_t (*start_process)(const sv_host *host, const char *group, const char *name, int wait);
    uint64_t (*stop_process)(const sv_host *host, const char *group, const char *name, int wait);
    uint64_t (*signal_process)(const sv_host *host, const char *group, const char *name,
                               int32_t signal);
    uint64_t (*send_stdin)(const sv_host *host, const char *group, const char *name,
                           const uint8_t *data, size_t len);
    uint64_t (*read_log)(const sv_host *host, uint32_t channel, const char *group,
                         const char *name, int64_t offset, int64_t length);
    uint64_t (*tail_log)(const sv_host *host, uint32_t channel, const char *group,
                         const char *name, int64_t offset, int64_t length);
    uint64_t (*clear_log)(const sv_host *host, uint32_t channel, const char *group,
                          const char *name);
    uint64_t (*reload_config)(const sv_host *host);
    uint64_t (*add_group)(const sv_host *host, const char *name);
    uint64_t (*remove_group)(const sv_host *host, const char *name);
    uint64_t (*publish_event)(const sv_host *host, const char *event_name, const char *payload);
    uint64_t (*shutdown)(const sv_host *host);
    uint64_t (*restart)(const sv_host *host);
    /* A line in the daemon's main log at level (SV_LOG_*). Allowed from a
       factory. */
    void (*log)(const sv_host *host, uint32_t level, const char *message);
} sv_api;

/* One method of a namespace. */
typedef struct sv_method {
    const char *name;      /* without the namespace prefix: "greet" */
    const char *help;      /* system.methodHelp's text */
    /* system.methodSignature's: the return type then the parameter types,
       comma-separated XML-RPC type names ("string,string,int"); NULL or ""
       when unknown. */
    const char *signature;
    uint32_t flags; /* SV_READS_ONLY | SV_RETURNS_AT_ONCE */
} sv_method;

/* One key = value of the plugin's section (every key but the factory's). */
typedef struct sv_config_entry {
    const char *key;
    const char *value;
} sv_config_entry;

/* What a factory fills in. */
typedef struct sv_namespace {
    void *state; /* the plugin's, passed back to call and destroy */
    const sv_method *methods; /* copied when the factory returns */
    size_t method_count;
    /* Answer method (without the prefix) with params (borrowed). A method
       the namespace lacks answers reply_fault(SV_FAULT_UNKNOWN_METHOD, NULL). */
    sv_reply *(*call)(void *state, const char *method, const sv_value *const *params,
                      size_t count);
    void (*destroy)(void *state); /* may be NULL */
} sv_namespace;

/* A namespace factory, named after the ':' of the section's factory value.
   api is valid for the life of the process, host until destroy. Returns 0
   having filled *out, or nonzero having written one line (NUL-terminated,
   at most error_size bytes) into error. */
typedef struct sv_factory {
    const char *name;
    int (*make)(const sv_api *api, const sv_host *host, const char *section,
                const sv_config_entry *config, size_t config_count, sv_namespace *out,
                char *error, size_t error_size);
} sv_factory;

/* What supervisor_plugin_c returns: static data. */
typedef struct sv_plugin {
    uint32_t abi_version; /* SV_ABI_VERSION: always the first member */
    const char *name;     /* the plugin's name and version, for messages */
    const sv_factory *factories;
    size_t factory_count;
} sv_plugin;

/* The one symbol a C plugin exports. */
const sv_plugin *supervisor_plugin_c(void);

#ifdef __cplusplus
}
#endif

#endif /* SUPERVISOR_PLUGIN_H */
