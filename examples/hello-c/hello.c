/*
 * hello: a supervisor-rs namespace plugin written in C.
 *
 * Build (the e2e test cplugin.rs does this into the target directory):
 *     cc -shared -fPIC -Wall -Wextra -I sdk/include \
 *        -o libhello_c.so examples/hello-c/hello.c
 * Load:
 *     [rpcinterface:hello]
 *     supervisor.rpcinterface_factory = /path/to/libhello_c.so:make_hello
 *     greeting = Bonjour
 * Call:
 *     python3 -c 'from xmlrpc.client import ServerProxy as S; \
 *         print(S("http://user:123@127.0.0.1:9001/RPC2").hello.greet("you"))'
 *
 * Methods: greet(name), add(a, b), echo(value), describe(), names(),
 * startAndWait(name), nothing(). Each shows one power of the interface:
 * config keys, faults, reading and building every kind of value, host
 * snapshot reads, a deferred reply waiting on a host command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor_plugin.h"

/* What one [rpcinterface:x] section built: shared by every call, read-only
   after the factory, so calls on several threads need no lock. */
struct hello {
    const sv_api *api;
    const sv_host *host;
    char *section;
    char *greeting;
    sv_value *config; /* the section's keys, in file order, as a struct */
};

static char *copy(const char *text) {
    size_t len = strlen(text) + 1;
    char *owned = malloc(len);
    if (owned) {
        memcpy(owned, text, len);
    }
    return owned;
}

/* A deep copy of a value: shows how to read and build every kind. */
static sv_value *clone(const sv_api *api, const sv_value *value) {
    size_t len = 0, i;
    const char *text;
    sv_value *copied;
    switch (api->kind(value)) {
    case SV_INT:
        return api->new_int(api->as_int(value));
    case SV_BOOL:
        return api->new_bool(api->as_bool(value));
    case SV_DOUBLE:
        return api->new_double(api->as_double(value));
    case SV_STRING:
        text = api->as_string(value, &len);
        return api->new_string(text, len);
    case SV_DATETIME:
        return api->new_datetime(api->as_string(value, NULL));
    case SV_BASE64:
        text = api->as_string(value, &len);
        return api->new_base64((const uint8_t *)text, len);
    case SV_ARRAY:
        copied = api->new_array();
        for (i = 0; i < api->len(value); i++) {
            api->push(copied, clone(api, api->item(value, i)));
        }
        return copied;
    case SV_STRUCT:
        copied = api->new_struct();
        for (i = 0; i < api->len(value); i++) {
            api->set(copied, api->member_name(value, i), clone(api, api->item(value, i)));
        }
        return copied;
    default:
        return api->new_nil();
    }
}

/* startAndWait's continuation: one ticket, one outcome. */
static sv_reply *started(void *data, uint64_t ticket, const sv_outcome *outcome) {
    const sv_api *api = data;
    (void)ticket;
    if (api->outcome_fault_code(outcome) != 0) {
        /* Pass the daemon's fault on as it is (ALREADY_STARTED, BAD_NAME...). */
        return api->reply_fault_string(api->outcome_fault_code(outcome),
                                       api->outcome_fault_string(outcome));
    }
    return api->reply_value(api->new_bool(1));
}

static sv_reply *call(void *state, const char *method, const sv_value *const *params,
                      size_t count) {
    struct hello *hello = state;
    const sv_api *api = hello->api;

    if (strcmp(method, "greet") == 0) {
        const char *name;
        char *text;
        size_t size;
        sv_value *answer;
        if (count != 1 || api->kind(params[0]) != SV_STRING) {
            return api->reply_fault(SV_FAULT_INCORRECT_PARAMETERS, NULL);
        }
        name = api->as_string(params[0], NULL);
        size = strlen(hello->greeting) + strlen(name) + 4;
        text = malloc(size);
        if (!text) {
            return api->reply_fault(SV_FAULT_FAILED, "out of memory");
        }
        snprintf(text, size, "%s, %s!", hello->greeting, name);
        answer = api->new_string(text, SIZE_MAX);
        free(text);
        return api->reply_value(answer);
    }
    if (strcmp(method, "add") == 0) {
        if (count != 2 || api->kind(params[0]) != SV_INT || api->kind(params[1]) != SV_INT) {
            return api->reply_fault(SV_FAULT_INCORRECT_PARAMETERS, NULL);
        }
        return api->reply_value(
            api->new_int(api->as_int(params[0]) + api->as_int(params[1])));
    }
    if (strcmp(method, "echo") == 0) {
        if (count != 1) {
            return api->reply_fault(SV_FAULT_INCORRECT_PARAMETERS, NULL);
        }
        return api->reply_value(clone(api, params[0]));
    }
    if (strcmp(method, "describe") == 0) {
        sv_value *answer = api->new_struct();
        api->set(answer, "section", api->new_string(hello->section, SIZE_MAX));
        api->set(answer, "greeting", api->new_string(hello->greeting, SIZE_MAX));
        api->set(answer, "config", clone(api, hello->config));
        api->set(answer, "identification", api->identification(hello->host));
        api->set(answer, "pid", api->new_int((int32_t)api->supervisor_pid(hello->host)));
        api->set(answer, "state", api->new_int(api->supervisor_state(hello->host)));
        return api->reply_value(answer);
    }
    if (strcmp(method, "names") == 0) {
        sv_value *infos = api->process_infos(hello->host);
        sv_value *names = api->new_array();
        size_t i;
        for (i = 0; i < api->len(infos); i++) {
            const sv_value *info = api->item(infos, i);
            const char *group = api->as_string(api->get(info, "group"), NULL);
            const char *name = api->as_string(api->get(info, "name"), NULL);
            char full[512];
            snprintf(full, sizeof full, "%s:%s", group, name);
            api->push(names, api->new_string(full, SIZE_MAX));
        }
        api->value_free(infos);
        return api->reply_value(names);
    }
    if (strcmp(method, "startAndWait") == 0) {
        const char *name;
        uint64_t ticket;
        if (count != 1 || api->kind(params[0]) != SV_STRING) {
            return api->reply_fault(SV_FAULT_INCORRECT_PARAMETERS, NULL);
        }
        name = api->as_string(params[0], NULL);
        api->log(hello->host, SV_LOG_INFO, "hello: starting a process and waiting");
        ticket = api->start_process(hello->host, name, name, 1);
        /* The api table lives as long as the process: it is all the
           continuation needs, so there is nothing to free. */
        return api->reply_deferred(&ticket, 1, started, NULL, (void *)api, NULL);
    }
    if (strcmp(method, "nothing") == 0) {
        return NULL; /* the daemon answers FAILED for us */
    }
    return api->reply_fault(SV_FAULT_UNKNOWN_METHOD, NULL);
}

static void destroy(void *state) {
    struct hello *hello = state;
    hello->api->value_free(hello->config);
    free(hello->section);
    free(hello->greeting);
    free(hello);
}

static const sv_method methods[] = {
    {"greet", "Greet name with the section's greeting.", "string,string",
     SV_READS_ONLY | SV_RETURNS_AT_ONCE},
    {"add", "The sum of two integers.", "int,int,int", SV_READS_ONLY | SV_RETURNS_AT_ONCE},
    {"echo", "Its parameter, copied value by value.", NULL, SV_READS_ONLY | SV_RETURNS_AT_ONCE},
    {"describe", "The section, its keys and the daemon's identity.", "struct",
     SV_READS_ONLY | SV_RETURNS_AT_ONCE},
    {"names", "Every process as group:name.", "array", SV_READS_ONLY | SV_RETURNS_AT_ONCE},
    {"startAndWait", "Start the process name (of the group name) and wait until it runs.",
     "boolean,string", SV_RETURNS_AT_ONCE},
    {"nothing", "Answers no reply at all.", "nil", SV_READS_ONLY | SV_RETURNS_AT_ONCE},
};

static int make_hello(const sv_api *api, const sv_host *host, const char *section,
                      const sv_config_entry *config, size_t config_count, sv_namespace *out,
                      char *error, size_t error_size) {
    struct hello *hello;
    const char *greeting = "Hello";
    size_t i;
    for (i = 0; i < config_count; i++) {
        if (strcmp(config[i].key, "greeting") == 0) {
            greeting = config[i].value;
        }
    }
    if (greeting[0] == '\0') {
        snprintf(error, error_size, "invalid value \"\" for greeting in [%s]: it is empty",
                 section);
        return 1;
    }
    hello = calloc(1, sizeof *hello);
    if (!hello) {
        snprintf(error, error_size, "out of memory");
        return 1;
    }
    hello->api = api;
    hello->host = host;
    hello->section = copy(section);
    hello->greeting = copy(greeting);
    hello->config = api->new_struct();
    for (i = 0; i < config_count; i++) {
        api->set(hello->config, config[i].key, api->new_string(config[i].value, SIZE_MAX));
    }
    api->log(host, SV_LOG_INFO, "hello: C plugin ready");
    out->state = hello;
    out->methods = methods;
    out->method_count = sizeof methods / sizeof methods[0];
    out->call = call;
    out->destroy = destroy;
    return 0;
}

static const sv_factory factories[] = {{"make_hello", make_hello}};

static const sv_plugin plugin = {SV_ABI_VERSION, "hello 0.1.0", factories,
                                 sizeof factories / sizeof factories[0]};

const sv_plugin *supervisor_plugin_c(void) { return &plugin; }
