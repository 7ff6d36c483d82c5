/* SPDX-License-Identifier: MIT */
/*
 * `lttng list --python`: the process registers with the session daemons as a Python agent, like
 * the official agent (lttngust), and answers their commands, without ever delaying the program.
 *
 * One thread per process (`pytrace-agent`, signals blocked) does all the socket work: it reads
 * the port files of the root daemon (/var/run/lttng/agent.port) and of the user's
 * ($LTTNG_HOME or $HOME, /.lttng/agent.port) every PORT_CHECK_MS, connects to 127.0.0.1:PORT,
 * registers, then answers commands. Every socket is non-blocking and every wait is a poll() that
 * also watches a wake-up pipe, with a deadline when something is in flight: a stalled daemon
 * costs a dropped connection, never a blocked thread, and stopping is immediate.
 *
 * It never takes a GIL. A LIST needs the names in `logging.Logger.manager.loggerDict`: the
 * agent thread asks the watcher (watch.c), the one thread that enters interpreters from outside
 * under the closing protocol of api.c (an interpreter being detached or finalized is left
 * alone), and waits at most LIST_WAIT_MS; past that it replies with the names of the last
 * successful copy. The daemon waits for our reply without a timeout, so a reply always comes.
 *
 * Locks: agent_lock protects everything below that both threads touch; it is never held while
 * waiting for a GIL, a socket or api.c's registry lock.
 */
#include "agent.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PORT_CHECK_MS 1000	/* port files read again (a daemon started later is found) */
#define CONNECT_TIMEOUT_MS 1000 /* a connect() that does not complete */
#define IO_TIMEOUT_MS 1000	/* a command half received, or a reply the daemon does not read */
#define LIST_WAIT_MS 250	/* for the watcher to copy the logger names */
#define BACKOFF_MAX_MS 16000	/* a daemon that keeps dropping us before registration is done */
#define CHILD_DELAY_MS 100	/* a fork child that execs at once does not register */
#define MAX_INTERPS 64

#define ROOT_PORT_FILE "/var/run/lttng/agent.port"

enum client_state {
	CLIENT_IDLE,
	CLIENT_CONNECTING,
	CLIENT_CONNECTED,
};

/* The connection with one daemon. Touched by its agent thread only (and the fork child). */
struct client {
	const char *name; /* "root" or "user" */
	int fd;
	int port;
	enum client_state state;
	bool registered;	/* REGISTRATION_DONE received */
	uint64_t deadline;	/* connect, half command or unsent reply; 0: none */
	uint64_t retry_at;	/* no new connection before */
	unsigned int failures;	/* connections lost before registration done, in a row */
	uint8_t *tx;		/* reply being sent (tx_small or malloc()ed) */
	size_t tx_len, tx_off;
	uint8_t tx_small[PT_AGENT_REGISTER_SIZE];
	struct pt_agent_rules rules; /* what this daemon enabled (agent_lock) */
	struct pt_agent_rx rx;
};

/* One agent thread. A stopped one finishes on its own and frees itself. */
struct instance {
	pthread_t thread;
	int wake[2];
	bool stop; /* agent_lock */
	char *user_path;
	uint64_t start_at;
	struct client client[2];
	struct instance *next; /* agent_lock: every instance not yet finished */
};

/* One interpreter listed, with the names of its last copy (NUL-separated). */
struct agent_interp {
	PyInterpreterState *interp;
	char *names;
	size_t len;
};

static pthread_mutex_t agent_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t agent_cond; /* list_done moved (CLOCK_MONOTONIC) */
static pthread_once_t agent_once = PTHREAD_ONCE_INIT;
static struct instance *instances;
static struct instance *current; /* the instance running, NULL if none */
static struct agent_interp interps[MAX_INTERPS];
static size_t ninterps;
static unsigned int list_req;  /* bumped by the agent thread to ask for names (atomic) */
static unsigned int list_done; /* the last request served (written under agent_lock, atomic) */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the port files ---- */

/* The port in @path, or -1. Non-blocking open: a FIFO there never blocks the thread. */
static int read_port(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd;

	if (!path) {
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0 || n == (ssize_t)sizeof(buf)) {
		return -1;
	}
	n = pt_agent_parse_port(buf, (size_t)n);
	return n > 0 ? (int)n : -1;
}

/* $LTTNG_HOME/.lttng/agent.port, else $HOME/.lttng/agent.port (as lttngust and lttng-sessiond
 * do). Read in the thread that starts the agent: getenv() is not safe against a concurrent
 * setenv() of the program, which the GIL serialises. */
static char *user_port_path(void)
{
	const char *home = getenv("LTTNG_HOME");
	char *path;

	if (!home || !*home) {
		home = getenv("HOME");
	}
	if (!home || !*home) {
		return NULL;
	}
	path = malloc(strlen(home) + sizeof("/.lttng/agent.port"));
	if (path) {
		strcpy(path, home);
		strcat(path, "/.lttng/agent.port");
	}
	return path;
}

/* ---- one connection ---- */

static void tx_clear(struct client *c)
{
	if (c->tx && c->tx != c->tx_small) {
		free(c->tx);
	}
	c->tx = NULL;
	c->tx_len = c->tx_off = 0;
}

/* Drops the connection. @backoff: it failed in a way that retrying at once would repeat. */
static void client_close(struct client *c, uint64_t now, bool backoff)
{
	uint64_t delay = 0;

	if (c->fd >= 0) {
		close(c->fd);
		pt_debug("agent: %s daemon: disconnected (port %d)", c->name, c->port);
	}
	c->fd = -1;
	c->state = CLIENT_IDLE;
	c->deadline = 0;
	tx_clear(c);
	pt_agent_rx_reset(&c->rx);
	if (backoff && !c->registered) {
		c->failures++;
		delay = PORT_CHECK_MS << (c->failures < 5 ? c->failures - 1 : 4);
		if (delay > BACKOFF_MAX_MS) {
			delay = BACKOFF_MAX_MS;
		}
	}
	c->registered = false;
	c->retry_at = now + delay;
	pthread_mutex_lock(&agent_lock);
	memset(&c->rules, 0, sizeof(c->rules));
	pthread_mutex_unlock(&agent_lock);
}

static void client_connect(struct client *c, int port, uint64_t now)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		c->retry_at = now + PORT_CHECK_MS;
		return;
	}
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = fd;
	c->port = port;
	c->state = CLIENT_CONNECTING;
	c->deadline = now + CONNECT_TIMEOUT_MS;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno != EINPROGRESS) {
		/* Refused: a stale port file, no daemon. Cheap to try again next round. */
		client_close(c, now, false);
	}
}

/* Queues a reply; reading stops until it is sent. */
static void client_reply(struct client *c, uint8_t *buf, size_t len, uint64_t now)
{
	c->tx = buf;
	c->tx_len = len;
	c->tx_off = 0;
	c->deadline = now + IO_TIMEOUT_MS;
}

static void client_status(struct client *c, uint32_t code, uint64_t now)
{
	pt_agent_encode_status(c->tx_small, code);
	client_reply(c, c->tx_small, 4, now);
}

/* The LIST reply: asks the watcher for fresh names, waits a little, encodes what it has. */
static void client_list(struct instance *in, struct client *c, uint64_t now)
{
	struct pt_agent_names sets[MAX_INTERPS];
	unsigned int want;
	struct timespec until;
	uint8_t *buf;
	size_t size;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += LIST_WAIT_MS * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&agent_lock);
	want = __atomic_add_fetch(&list_req, 1, __ATOMIC_RELEASE);
	while ((int)(list_done - want) < 0 && !in->stop) {
		if (pthread_cond_timedwait(&agent_cond, &agent_lock, &until) == ETIMEDOUT) {
			pt_debug("agent: logger names not copied within %d ms: replying with the "
				 "last copy", LIST_WAIT_MS);
			break;
		}
	}
	for (size_t i = 0; i < ninterps; i++) {
		sets[i].names = interps[i].names;
		sets[i].len = interps[i].len;
	}
	buf = pt_agent_encode_list(sets, ninterps, &size);
	pthread_mutex_unlock(&agent_lock);
	if (!buf) {
		client_status(c, PT_AGENT_RET_INVALID, now);
		return;
	}
	client_reply(c, buf, size, now);
}

static void client_command(struct instance *in, struct client *c, uint64_t now)
{
	struct pt_agent_rx *rx = &c->rx;
	struct pt_agent_enable e;
	char name[PT_AGENT_NAME_LEN];

	switch (rx->cmd) {
	case PT_AGENT_CMD_REG_DONE:
		/* No reply: the daemon reads none. */
		if (!c->registered) {
			pt_debug("agent: %s daemon: registered (port %d)", c->name, c->port);
		}
		c->registered = true;
		c->failures = 0;
		break;
	case PT_AGENT_CMD_LIST:
		client_list(in, c, now);
		break;
	case PT_AGENT_CMD_ENABLE:
		if (pt_agent_decode_enable(rx->data, (size_t)rx->size, &e) < 0) {
			client_status(c, PT_AGENT_RET_INVALID, now);
			break;
		}
		pthread_mutex_lock(&agent_lock);
		pt_agent_rules_enable(&c->rules, &e);
		pthread_mutex_unlock(&agent_lock);
		client_status(c, PT_AGENT_RET_SUCCESS, now);
		break;
	case PT_AGENT_CMD_DISABLE:
		if (pt_agent_decode_disable(rx->data, (size_t)rx->size, name) < 0) {
			client_status(c, PT_AGENT_RET_INVALID, now);
			break;
		}
		pthread_mutex_lock(&agent_lock);
		pt_agent_rules_disable(&c->rules, name);
		pthread_mutex_unlock(&agent_lock);
		client_status(c, PT_AGENT_RET_SUCCESS, now);
		break;
	default:
		/* Application contexts (never sent for python) and anything newer. */
		pt_debug("agent: %s daemon: command %u not handled", c->name, rx->cmd);
		client_status(c, PT_AGENT_RET_INVALID, now);
		break;
	}
	pt_agent_rx_reset(rx);
}

static void client_io(struct instance *in, struct client *c, short revents, uint64_t now)
{
	if (c->state == CLIENT_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
			client_close(c, now, false);
			return;
		}
		c->state = CLIENT_CONNECTED;
		pt_debug("agent: %s daemon: connected to port %d", c->name, c->port);
		pt_agent_encode_register(c->tx_small, (uint32_t)getpid());
		client_reply(c, c->tx_small, PT_AGENT_REGISTER_SIZE, now);
		return;
	}
	if (c->tx) {
		if (!(revents & (POLLOUT | POLLERR | POLLHUP))) {
			return;
		}
		ssize_t n = send(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				client_close(c, now, true);
			}
			return;
		}
		c->tx_off += (size_t)n;
		if (c->tx_off == c->tx_len) {
			tx_clear(c);
			c->deadline = 0;
		}
		return;
	}
	/* One command at a time: the daemon waits for each reply before it sends another. */
	for (;;) {
		size_t want;
		uint8_t *space = pt_agent_rx_space(&c->rx, &want);
		ssize_t n = recv(c->fd, space, want, MSG_DONTWAIT);
		int ret;

		if (n == 0) {
			client_close(c, now, true);
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				client_close(c, now, true);
			}
			break;
		}
		if (!pt_agent_rx_partial(&c->rx)) {
			c->deadline = now + IO_TIMEOUT_MS;
		}
		ret = pt_agent_rx_got(&c->rx, (size_t)n);
		if (ret < 0) {
			pt_debug("agent: %s daemon: command of %llu bytes: dropping the connection",
				 c->name, (unsigned long long)c->rx.size);
			client_close(c, now, true);
			return;
		}
		if (ret == 1) {
			c->deadline = 0;
			client_command(in, c, now);
			break;
		}
	}
}

/* Timers: deadlines, and the port files read every PORT_CHECK_MS. */
static void check_ports(struct instance *in, uint64_t now)
{
	int port[2];

	port[0] = read_port(ROOT_PORT_FILE);
	port[1] = read_port(in->user_path);
	if (port[0] == port[1]) {
		port[0] = -1; /* one daemon: register once (as lttngust does) */
	}
	for (int i = 0; i < 2; i++) {
		struct client *c = &in->client[i];

		if (c->state != CLIENT_IDLE && port[i] > 0 && port[i] != c->port) {
			/* A new daemon took over: leave the old one. */
			client_close(c, now, false);
		}
		if (c->state == CLIENT_IDLE && port[i] > 0 && now >= c->retry_at) {
			client_connect(c, port[i], now);
		}
	}
}

static void *agent_main(void *arg)
{
	struct instance *in = arg;
	uint64_t next_check = in->start_at;

	for (;;) {
		struct pollfd pfd[3];
		struct client *polled[3] = { NULL };
		uint64_t now = now_ms(), wake_at;
		nfds_t n = 0;
		bool stop;

		pthread_mutex_lock(&agent_lock);
		stop = in->stop;
		pthread_mutex_unlock(&agent_lock);
		if (stop) {
			break;
		}
		for (int i = 0; i < 2; i++) {
			struct client *c = &in->client[i];

			if (c->deadline && now >= c->deadline) {
				pt_debug("agent: %s daemon: no progress in %d ms", c->name,
					 IO_TIMEOUT_MS);
				client_close(c, now, true);
			}
		}
		if (now >= next_check) {
			check_ports(in, now);
			next_check = now + PORT_CHECK_MS;
		}
		wake_at = next_check;
		pfd[n].fd = in->wake[0];
		pfd[n++].events = POLLIN;
		for (int i = 0; i < 2; i++) {
			struct client *c = &in->client[i];

			if (c->fd < 0) {
				continue;
			}
			if (c->deadline && c->deadline < wake_at) {
				wake_at = c->deadline;
			}
			polled[n] = c;
			pfd[n].fd = c->fd;
			pfd[n++].events = c->state == CLIENT_CONNECTING || c->tx ? POLLOUT : POLLIN;
		}
		if (poll(pfd, n, (int)(wake_at > now ? wake_at - now : 0)) < 0) {
			continue;
		}
		if (pfd[0].revents) {
			char buf[64];

			while (read(in->wake[0], buf, sizeof(buf)) > 0) {
			}
		}
		now = now_ms();
		for (nfds_t i = 1; i < n; i++) {
			if (pfd[i].revents) {
				client_io(in, polled[i], pfd[i].revents, now);
			}
		}
	}
	for (int i = 0; i < 2; i++) {
		client_close(&in->client[i], now_ms(), false);
	}
	pthread_mutex_lock(&agent_lock);
	for (struct instance **p = &instances; *p; p = &(*p)->next) {
		if (*p == in) {
			*p = in->next;
			break;
		}
	}
	pthread_mutex_unlock(&agent_lock);
	close(in->wake[0]);
	close(in->wake[1]);
	free(in->user_path);
	free(in);
	return NULL;
}

/* ---- life cycle (agent_lock held) ---- */

static void instance_free_fds(struct instance *in)
{
	for (int i = 0; i < 2; i++) {
		if (in->client[i].fd >= 0) {
			close(in->client[i].fd);
		}
		tx_clear(&in->client[i]);
	}
	close(in->wake[0]);
	close(in->wake[1]);
	free(in->user_path);
}

static int spawn(uint64_t delay_ms)
{
	struct instance *in = calloc(1, sizeof(*in));
	pthread_attr_t attr;
	sigset_t all, old;
	int err;

	if (!in) {
		return -ENOMEM;
	}
	if (pipe2(in->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		err = -errno;
		free(in);
		return err;
	}
	in->user_path = user_port_path();
	in->start_at = now_ms() + delay_ms;
	for (int i = 0; i < 2; i++) {
		in->client[i].name = i ? "user" : "root";
		in->client[i].fd = -1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&in->thread, &attr, agent_main, in);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err) {
		pt_warn("cannot start the agent thread: %s", strerror(err));
		instance_free_fds(in);
		free(in);
		return -err;
	}
	pthread_setname_np(in->thread, "pytrace-agent");
	in->next = instances;
	instances = in;
	current = in;
	return 0;
}

static void stop_current(void)
{
	if (!current) {
		return;
	}
	current->stop = true;
	if (write(current->wake[1], "", 1) < 0) {
		/* Full: a wake-up is pending anyway. */
	}
	pthread_cond_broadcast(&agent_cond);
	current = NULL;
}

/* fork(): the lock is held across it, so the child finds it consistent. The child has none of
 * the agent threads: it closes their sockets (the parent's registrations, which must not outlive
 * the parent) and registers on its own, under its own pid, after CHILD_DELAY_MS. */
static void atfork_prepare(void)
{
	pthread_mutex_lock(&agent_lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&agent_lock);
}

static void cond_init(void)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&agent_cond, &attr);
	pthread_condattr_destroy(&attr);
}

static void atfork_child(void)
{
	while (instances) {
		struct instance *in = instances;

		instances = in->next;
		instance_free_fds(in);
		free(in);
	}
	current = NULL;
	__atomic_store_n(&list_done, __atomic_load_n(&list_req, __ATOMIC_RELAXED),
			 __ATOMIC_RELAXED);
	cond_init();
	if (ninterps) {
		spawn(CHILD_DELAY_MS);
	}
	pthread_mutex_unlock(&agent_lock);
}

static void agent_init(void)
{
	cond_init();
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

int pt_agent_start(PyInterpreterState *interp)
{
	int err = 0;

	if (!interp) {
		return -EINVAL;
	}
	if (!pt_interp_find(interp)) {
		return -ENOENT;
	}
	pthread_once(&agent_once, agent_init);
	pthread_mutex_lock(&agent_lock);
	for (size_t i = 0; i < ninterps; i++) {
		if (interps[i].interp == interp) {
			goto out;
		}
	}
	if (ninterps == MAX_INTERPS) {
		err = -ENOMEM;
		goto out;
	}
	interps[ninterps++] = (struct agent_interp){ .interp = interp };
	if (!current) {
		err = spawn(0);
		if (err) {
			ninterps--;
		}
	}
out:
	pthread_mutex_unlock(&agent_lock);
	return err;
}

void pt_agent_forget(PyInterpreterState *interp)
{
	if (!interp) {
		return;
	}
	pthread_once(&agent_once, agent_init);
	pthread_mutex_lock(&agent_lock);
	for (size_t i = 0; i < ninterps; i++) {
		if (interps[i].interp == interp) {
			free(interps[i].names);
			interps[i] = interps[--ninterps];
			break;
		}
	}
	if (!ninterps) {
		stop_current();
	}
	pthread_mutex_unlock(&agent_lock);
}

bool pt_agent_wants(const char *logger, int level)
{
	bool wanted;

	pthread_once(&agent_once, agent_init);
	pthread_mutex_lock(&agent_lock);
	wanted = current && (pt_agent_rules_match(&current->client[0].rules, logger, level) ||
			     pt_agent_rules_match(&current->client[1].rules, logger, level));
	pthread_mutex_unlock(&agent_lock);
	return wanted;
}

/* ---- the watcher's part: copying the names, GIL held ---- */

/* Appends the keys of logging.Logger.manager.loggerDict to @buf (malloc()ed, NUL-separated).
 * A program that never imported logging has no logger: nothing is imported for it. Returns
 * false if the names could not be read (the last copy is kept then). */
static bool copy_names(char **buf, size_t *len)
{
	PyObject *modules = PyImport_GetModuleDict();
	PyObject *logging, *cls = NULL, *manager = NULL, *dict = NULL, *key, *value;
	Py_ssize_t pos = 0;
	size_t cap = 0;
	bool ok = false;

	*buf = NULL;
	*len = 0;
	logging = modules && PyDict_Check(modules) ? PyDict_GetItemString(modules, "logging")
						   : NULL;
	if (!logging || logging == Py_None) {
		ok = true;
		goto out;
	}
	cls = PyObject_GetAttrString(logging, "Logger");
	manager = cls ? PyObject_GetAttrString(cls, "manager") : NULL;
	dict = manager ? PyObject_GetAttrString(manager, "loggerDict") : NULL;
	if (!dict || !PyDict_Check(dict)) {
		goto out;
	}
	ok = true;
	while (PyDict_Next(dict, &pos, &key, &value)) {
		Py_ssize_t n;
		const char *s;

		if (!PyUnicode_Check(key)) {
			continue;
		}
		s = PyUnicode_AsUTF8AndSize(key, &n);
		if (!s) {
			PyErr_Clear();
			continue;
		}
		/* The daemon rejects a whole list with a name of 256 bytes or more. */
		if ((size_t)n >= PT_AGENT_NAME_LEN || memchr(s, '\0', (size_t)n)) {
			continue;
		}
		if (*len + (size_t)n + 1 > PT_AGENT_LIST_MAX) {
			break;
		}
		if (*len + (size_t)n + 1 > cap) {
			char *grown;

			cap = cap ? cap * 2 : 4096;
			grown = realloc(*buf, cap);
			if (!grown) {
				break;
			}
			*buf = grown;
		}
		memcpy(*buf + *len, s, (size_t)n + 1);
		*len += (size_t)n + 1;
	}
out:
	Py_XDECREF(dict);
	Py_XDECREF(manager);
	Py_XDECREF(cls);
	PyErr_Clear();
	return ok;
}

void pt_agent_watch(void)
{
	PyInterpreterState *todo[MAX_INTERPS];
	unsigned int want = __atomic_load_n(&list_req, __ATOMIC_ACQUIRE);
	size_t n;

	/* Every watcher round: no lock unless a LIST waits. */
	if (want == __atomic_load_n(&list_done, __ATOMIC_RELAXED)) {
		return;
	}
	pthread_mutex_lock(&agent_lock);
	n = ninterps;
	for (size_t i = 0; i < n; i++) {
		todo[i] = interps[i].interp;
	}
	pthread_mutex_unlock(&agent_lock);

	for (size_t i = 0; i < n; i++) {
		struct pt_interp *pi = pt_interp_hold(todo[i]);
		PyThreadState *ts;
		char *names = NULL;
		size_t len = 0;
		bool ok = false;

		if (!pi) {
			continue;
		}
		if (pt_watch_enter(pi, &ts)) {
			ok = copy_names(&names, &len);
			pt_watch_leave(ts);
		}
		pt_interp_release(pi);
		if (!ok) {
			continue;
		}
		pthread_mutex_lock(&agent_lock);
		for (size_t j = 0; j < ninterps; j++) {
			if (interps[j].interp == todo[i]) {
				free(interps[j].names);
				interps[j].names = names;
				interps[j].len = len;
				names = NULL;
				break;
			}
		}
		pthread_mutex_unlock(&agent_lock);
		free(names);
	}
	pthread_mutex_lock(&agent_lock);
	__atomic_store_n(&list_done, want, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&agent_cond);
	pthread_mutex_unlock(&agent_lock);
}
