/* SPDX-License-Identifier: MIT */
/*
 * The Python agent's side of `lttng list --python`: registration with the session daemon(s)
 * (agent.c) and the agent protocol of lttng-tools 2.13 (agent-proto.c). Nothing here is exported.
 *
 * The protocol (lttng-tools src/common/sessiond-comm/agent.h, src/bin/lttng-sessiond/agent.c),
 * every integer big-endian:
 *   agent -> daemon, once:  register {u32 domain = 5 (python), u32 pid, u32 major = 2, minor = 0}
 *   daemon -> agent:        command  {u64 data_size, u32 cmd, u32 cmd_version} + data_size bytes
 *   agent -> daemon:        reply    {u32 ret_code} (LIST: + u32 data_size, u32 count, names)
 * REGISTRATION_DONE gets no reply. The daemon waits for each reply without a timeout, holding
 * its locks: a reply must always come, and quickly.
 */
#ifndef PYTRACE_AGENT_H
#define PYTRACE_AGENT_H

#include "compat.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- agent.c: the registration thread ---- */

/*
 * Start registering @interp's Python loggers with the session daemon(s); idempotent per
 * interpreter, never blocks, safe to call with the GIL held. 0 or -errno: -EINVAL (NULL),
 * -ENOENT (@interp is not attached: only attached interpreters have the closing protocol that
 * lets another thread take their GIL), -ENOMEM, or the error of pthread_create()/pipe2().
 */
int pt_agent_start(PyInterpreterState *interp);

/* Stop listing @interp (detach, finalization); the thread stops when no interpreter is left.
 * Never blocks (it does not wait for the thread). Unknown or NULL @interp: no-op. */
void pt_agent_forget(PyInterpreterState *interp);

/* Called by the watcher on each round, with no GIL and no lock held: when the agent thread
 * asked for the logger names (a LIST command), takes each listed interpreter's GIL briefly to
 * copy them. Cheap otherwise (one atomic load). */
void pt_agent_watch(void);

/*
 * Whether a session enabled, through a daemon the process is registered with, Python events of
 * @logger at @level (the enable rules received, union over the daemons). For a forwarder that
 * wants to skip work nobody records; the selection proper is done by the tracer's filter (the
 * rules arrive asynchronously and may lag). MT-Safe.
 */
bool pt_agent_wants(const char *logger, int level);

/* ---- agent-proto.c: encoding and decoding, no I/O (unit-tested in test-agent.c) ---- */

#define PT_AGENT_DOMAIN_PYTHON 5 /* LTTNG_DOMAIN_PYTHON */
#define PT_AGENT_MAJOR 2
#define PT_AGENT_MINOR 0
#define PT_AGENT_NAME_LEN 256 /* LTTNG_SYMBOL_NAME_LEN */

enum pt_agent_cmd_id {
	PT_AGENT_CMD_LIST = 1,
	PT_AGENT_CMD_ENABLE = 2,
	PT_AGENT_CMD_DISABLE = 3,
	PT_AGENT_CMD_REG_DONE = 4,
	PT_AGENT_CMD_APP_CTX_ENABLE = 5,
	PT_AGENT_CMD_APP_CTX_DISABLE = 6,
};

enum pt_agent_ret {
	PT_AGENT_RET_SUCCESS = 1,
	PT_AGENT_RET_INVALID = 2,
	PT_AGENT_RET_UNKNOWN_NAME = 3,
};

/* lttng_loglevel_type */
enum pt_agent_loglevel_type {
	PT_AGENT_LOGLEVEL_ALL = 0,
	PT_AGENT_LOGLEVEL_RANGE = 1,  /* level >= value */
	PT_AGENT_LOGLEVEL_SINGLE = 2, /* level == value */
};

#define PT_AGENT_REGISTER_SIZE 16
#define PT_AGENT_HDR_SIZE 16
/* The largest command accepted: ENABLE's fixed part (268 bytes) plus a filter expression of
 * LTTNG_FILTER_MAX_LEN (65536) bytes. A larger data_size is garbage: the connection is dropped
 * (the bytes cannot be skipped without trusting the size). */
#define PT_AGENT_ENABLE_FIXED (4 + 4 + PT_AGENT_NAME_LEN + 4)
#define PT_AGENT_PAYLOAD_MAX (PT_AGENT_ENABLE_FIXED + 65536)
/* The largest LIST reply: names beyond it are left out. */
#define PT_AGENT_LIST_MAX (1024 * 1024)

/* The registration message for @pid. */
void pt_agent_encode_register(uint8_t out[PT_AGENT_REGISTER_SIZE], uint32_t pid);

/* A 4-byte generic reply. */
void pt_agent_encode_status(uint8_t out[4], uint32_t ret_code);

/* The port in an agent.port file's content (decimal, surrounding white space allowed),
 * 1..65535, or -EINVAL. */
int pt_agent_parse_port(const char *buf, size_t len);

/*
 * Incremental reader of the daemon's commands: recv() into pt_agent_rx_space(), then
 * pt_agent_rx_got(). The payload buffer is fixed (PT_AGENT_PAYLOAD_MAX): nothing the peer says
 * allocates memory.
 */
struct pt_agent_rx {
	size_t have;	   /* bytes of the current command received (header + payload) */
	uint64_t size;	   /* payload size, once the header is complete */
	uint32_t cmd, version;
	uint8_t hdr[PT_AGENT_HDR_SIZE];
	uint8_t data[PT_AGENT_PAYLOAD_MAX];
};

void pt_agent_rx_reset(struct pt_agent_rx *rx);
/* Where the next bytes go, and how many are wanted (> 0). */
uint8_t *pt_agent_rx_space(struct pt_agent_rx *rx, size_t *len);
/* @n bytes were written at pt_agent_rx_space(): 1 a command is complete (rx->cmd, rx->data,
 * rx->size; call pt_agent_rx_reset() before the next), 0 more is needed, -EPROTO the header
 * announces more than PT_AGENT_PAYLOAD_MAX. */
int pt_agent_rx_got(struct pt_agent_rx *rx, size_t n);
/* Whether part of a command was received (for the partial-command timeout). */
bool pt_agent_rx_partial(const struct pt_agent_rx *rx);

struct pt_agent_enable {
	uint32_t loglevel;
	uint32_t loglevel_type;
	char name[PT_AGENT_NAME_LEN];
	const char *filter; /* into the payload; NULL if none */
};

/* Decodes an ENABLE / DISABLE payload; 0 or -EINVAL (short, name not NUL-terminated within its
 * 256 bytes, filter length beyond the payload or not NUL-terminated). */
int pt_agent_decode_enable(const uint8_t *data, size_t size, struct pt_agent_enable *out);
int pt_agent_decode_disable(const uint8_t *data, size_t size, char name[PT_AGENT_NAME_LEN]);

/*
 * The enable rules received from one daemon: the form the forwarder could use (see
 * pt_agent_wants()). ENABLE adds a rule or counts it again; DISABLE (the daemon sends the name
 * only) drops one count of the first rule of that name. Past PT_AGENT_RULES_MAX rules, `overflow`
 * makes every logger wanted (never miss what is recorded).
 */
#define PT_AGENT_RULES_MAX 128
struct pt_agent_rule {
	char name[PT_AGENT_NAME_LEN]; /* a logger name, or a pattern where '*' matches anything */
	uint32_t loglevel;
	uint32_t loglevel_type;
	unsigned int count;
};
struct pt_agent_rules {
	unsigned int n;
	bool overflow;
	struct pt_agent_rule rule[PT_AGENT_RULES_MAX];
};

void pt_agent_rules_enable(struct pt_agent_rules *r, const struct pt_agent_enable *e);
void pt_agent_rules_disable(struct pt_agent_rules *r, const char *name);
bool pt_agent_rules_match(const struct pt_agent_rules *r, const char *logger, int level);
/* LTTng's star-glob: '*' matches any run of characters, '\' escapes the next one. */
bool pt_agent_glob(const char *pattern, const char *name);

/*
 * A LIST reply built from sets of logger names (each set: @count strings, NUL-terminated, back
 * to back, in @len bytes). Names that the daemon would reject (>= 256 bytes: it fails the whole
 * list) are left out, duplicates across sets too, and names beyond PT_AGENT_LIST_MAX. Returns
 * a malloc()ed buffer of *@size bytes, or NULL (ENOMEM).
 */
struct pt_agent_names {
	const char *names;
	size_t len;
};
uint8_t *pt_agent_encode_list(const struct pt_agent_names *sets, size_t nsets, size_t *size);

#endif /* PYTRACE_AGENT_H */
