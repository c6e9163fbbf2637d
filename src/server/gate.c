/*
 * gate.c: accepts connections and lets a request through to
 * libmicrohttpd once its head is complete and sound (see gate.h).
 *
 * Connections in the gate are in one of two FIFO lists, so the oldest is
 * always at the head and the next deadline is the head's:
 *   pending   accepted, head not complete; deadline = accept + header timeout
 *   closing   answered by the gate (an error), write side shut; the input
 *             is drained for a moment so the client reads the answer
 *             instead of a reset; deadline = answer + LINGER_MS
 * A connection leaves the gate either handed to MHD (MHD_add_connection)
 * or closed.  The caps count the active connections: pending ones and
 * those in MHD (gate_conn_closed() takes these off when MHD closes them).
 * A closing connection no longer counts against a cap (else refusing one
 * connection and evicting it to admit the next would let the pending ones
 * grow past the cap); their number has a bound of its own, closing_max,
 * past which the oldest is closed at once.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <jansson.h>
#include "server/mhd_dl.h"

#include "apflow/log.h"
#include "apflow/util.h"
#include "server/gate.h"
#include "server/httphead.h"
#include "server/loglimit.h"

#define LINGER_MS 1000
#define PAUSE_MS 100       /* accept() paused this long when out of fds */
#define ACCEPT_BURST 64    /* accepts per wake-up, so timers still run */
/* A connection whose head is still due may be closed to make room only
 * once it is this old: a client that just connected is not slow yet. */
#define EVICT_MIN_AGE_MS 500
/* Chunked requests relayed at once (see relay_main()), and each side's
 * buffer. */
#define RELAY_MAX 64
#define RELAY_BUF (64 << 10)

enum { C_PENDING, C_CLOSING, C_DEAD };

struct conn {
	int fd;
	int state;
	int64_t deadline;
	int64_t accepted;
	int counted;          /* in the active counts (total, per address) */
	size_t peeked;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct conn *prev, *next;
};

struct list {
	struct conn *head, *tail;
	unsigned n;
};

struct addr_count {
	unsigned char key[17];
	unsigned n;
};

struct gate {
	int listen_fd, epfd, wake_fd;
	int listening;        /* listen_fd is in the epoll set */
	struct MHD_Daemon *daemon;
	struct gate_opts opts;
	pthread_t thread;
	int started;
	struct list pending, closing;
	struct conn *dead;    /* closed during this round of events, freed after it */
	int64_t paused_until; /* 0: not paused */

	pthread_mutex_t lock; /* the counts below, and stopping */
	int stopping;
	unsigned total;       /* active: pending in the gate, and in MHD */
	unsigned closing_max;
	unsigned in_mhd;
	struct addr_count *addrs;
	size_t naddrs, addrs_cap;
	unsigned relays;      /* relay threads running */
	pthread_cond_t relays_done;

	char buf[HTTPHEAD_MAX];
};

/* Markers for epoll's data.ptr. */
static char listen_mark, wake_mark;

static struct loglimit ll_fds = LOGLIMIT_INIT(10000, 1);
static struct loglimit ll_refused = LOGLIMIT_INIT(10000, 3);

/* ---- per-address counts (under g->lock) ---- */

static void addr_key(const struct sockaddr *sa, unsigned char key[17])
{
	memset(key, 0, 17);
	if (sa->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		key[0] = 6;
		memcpy(key + 1, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	}
}

static struct addr_count *addr_find(struct gate *g, const unsigned char key[17])
{
	for (size_t i = 0; i < g->naddrs; i++)
		if (!memcmp(g->addrs[i].key, key, 17))
			return &g->addrs[i];
	return NULL;
}

static unsigned addr_count(struct gate *g, const struct sockaddr *sa)
{
	unsigned char key[17];
	struct addr_count *a;

	addr_key(sa, key);
	a = addr_find(g, key);
	return a ? a->n : 0;
}

static void addr_add(struct gate *g, const struct sockaddr *sa)
{
	unsigned char key[17];
	struct addr_count *a;

	addr_key(sa, key);
	a = addr_find(g, key);
	if (!a) {
		/* One entry per open connection at most: max_conns, and one
		 * being refused, bound it. */
		if (g->naddrs == g->addrs_cap)
			return;
		a = &g->addrs[g->naddrs++];
		memcpy(a->key, key, 17);
		a->n = 0;
	}
	a->n++;
}

static void addr_del(struct gate *g, const struct sockaddr *sa)
{
	unsigned char key[17];
	struct addr_count *a;

	addr_key(sa, key);
	a = addr_find(g, key);
	if (!a)
		return;
	if (--a->n == 0)
		*a = g->addrs[--g->naddrs];
}

/* ---- lists ---- */

static void list_push(struct list *l, struct conn *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	l->n++;
}

static void list_remove(struct list *l, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
	l->n--;
}

static struct list *list_of(struct gate *g, struct conn *c)
{
	return c->state == C_PENDING ? &g->pending : &g->closing;
}

/* A connection that left the gate: freed once the events of this round,
 * which may still name it, are handled. */
static void conn_bury(struct gate *g, struct conn *c)
{
	c->state = C_DEAD;
	c->fd = -1;
	c->next = g->dead;
	g->dead = c;
}

static void free_dead(struct gate *g)
{
	while (g->dead) {
		struct conn *c = g->dead;

		g->dead = c->next;
		free(c);
	}
}

static void uncount(struct gate *g, struct conn *c)
{
	if (!c->counted)
		return;
	pthread_mutex_lock(&g->lock);
	g->total--;
	addr_del(g, (struct sockaddr *)&c->addr);
	pthread_mutex_unlock(&g->lock);
	c->counted = 0;
}

/* Closes a connection the gate holds and takes it off the counts. */
static void conn_close(struct gate *g, struct conn *c)
{
	list_remove(list_of(g, c), c);
	epoll_ctl(g->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	uncount(g, c);
	conn_bury(g, c);
}

/* The whole HTTP reply for an error of code (status and name from the
 * error table, the JSON body of docs/api.md, Connection: close); malloc'ed,
 * its length in *len. */
static char *error_reply(int code, const char *msg, size_t *len)
{
	json_t *doc = json_pack("{s:s, s:s}", "error", msg, "code", apf_err_name(code));
	char *body = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	char *out;

	json_decref(doc);
	out = apf_xasprintf("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
			    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n%s",
			    apf_err_http_status(code), apf_err_desc(code), body ? strlen(body) : 0, body ? body : "");
	free(body);
	*len = strlen(out);
	return out;
}

/*
 * Answers a connection still in the gate with the error of code (status
 * from the error table) and starts its lingering close.  The answer is
 * small and the socket's buffer empty, so one non-blocking send is enough;
 * if it is not, the client gets what fits.
 */
static void conn_refuse(struct gate *g, struct conn *c, int code, const char *msg)
{
	size_t len;
	char *out = error_reply(code, msg, &len);

	(void)!send(c->fd, out, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	free(out);
	shutdown(c->fd, SHUT_WR);
	list_remove(list_of(g, c), c);
	uncount(g, c);
	c->state = C_CLOSING;
	c->deadline = apf_now_ms() + LINGER_MS;
	list_push(&g->closing, c);
	if (g->closing.n > g->closing_max)
		conn_close(g, g->closing.head);
}

/* Reads and drops what a closing connection sends; closes it at EOF. */
static void conn_drain(struct gate *g, struct conn *c)
{
	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(c->fd, g->buf, sizeof(g->buf), MSG_DONTWAIT);

		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		break;
	}
	conn_close(g, c);
}

/*
 * A chunked request's relay.  libmicrohttpd finds a malformed chunked
 * body only while it reads it, and answers with its own HTML page.  So a
 * chunked request does not get the client's socket: it gets one end of a
 * socket pair, and a thread of the relay copies the client's bytes to it,
 * checking the body's framing as they pass (chunkparse_feed()), and
 * MHD's answer back.  On a framing error the client gets the JSON 400 (if
 * MHD has not begun answering) and MHD an end of input, so the request is
 * dropped there and its temp files deleted.  Bytes after the body's end
 * are not passed on (one request per connection).  The thread ends when
 * MHD closes its end and the answer is delivered, or the client goes.
 */
struct relay {
	struct gate *g;
	int cfd, mfd;      /* the client's socket, our end of the pair */
	size_t head_left;  /* bytes of the head still to pass unchecked */
	struct chunkparse cp;
	int body_done;
	char *up, *down;   /* client -> MHD, MHD -> client */
	size_t up_len, up_off, down_len, down_off;
	uint64_t answered; /* bytes of MHD's answer passed on */
	char first[32];    /* and the first of them */
};

static int relay_can_answer(const struct relay *r)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	/* Nothing yet, or only an interim "100 Continue". */
	return r->answered == 0 ||
	       (r->answered == sizeof(cont) - 1 && !memcmp(r->first, cont, sizeof(cont) - 1));
}

/* Sends a JSON error to the client, blocking at most a moment. */
static void relay_refuse(struct relay *r, const char *msg)
{
	size_t len, off = 0;
	char *out = error_reply(APF_EINVAL, msg, &len);

	for (int tries = 0; off < len && tries < 20; tries++) {
		struct pollfd p = { r->cfd, POLLOUT, 0 };
		ssize_t k = send(r->cfd, out + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (k > 0)
			off += (size_t)k;
		else if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			break;
		else
			(void)poll(&p, 1, 50);
	}
	free(out);
	/* Let the client read it rather than a reset: drain for a moment. */
	shutdown(r->cfd, SHUT_WR);
	for (int64_t end = apf_now_ms() + LINGER_MS; apf_now_ms() < end;) {
		struct pollfd p = { r->cfd, POLLIN, 0 };
		char junk[4096];

		if (poll(&p, 1, 100) > 0 && recv(r->cfd, junk, sizeof(junk), MSG_DONTWAIT) == 0)
			break;
	}
}

/* Passes client bytes in r->up through the framing check; returns -1 on
 * a framing error (answered). */
static int relay_check(struct relay *r, size_t from)
{
	struct apf_err err;
	size_t used;
	int rc;

	if (r->head_left) {
		size_t k = r->up_len - from < r->head_left ? r->up_len - from : r->head_left;
		r->head_left -= k;
		from += k;
	}
	if (from == r->up_len || r->body_done)
		return 0;
	apf_err_clear(&err);
	rc = chunkparse_feed(&r->cp, r->up + from, r->up_len - from, &used, &err);
	if (rc == 1) {
		r->body_done = 1;
		r->up_len = from + used; /* what follows the body is not passed on */
		return 0;
	}
	if (rc == 0)
		return 0;
	loglimit_log(&ll_refused, APF_LOG_DEBUG, "refused a request: %s", err.msg);
	if (relay_can_answer(r))
		relay_refuse(r, err.msg);
	return -1;
}

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	struct gate *g = r->g;
	int client_eof = 0, mhd_eof = 0, mhd_wr_shut = 0;
	int64_t flush_end = 0;

	for (;;) {
		struct pollfd p[2] = { { r->cfd, 0, 0 }, { r->mfd, 0, 0 } };
		ssize_t k;

		/* Client -> MHD. */
		if (r->up_off == r->up_len) {
			r->up_off = r->up_len = 0;
			if (!client_eof && !r->body_done && !mhd_eof)
				p[0].events |= POLLIN;
			if ((client_eof || r->body_done) && !mhd_wr_shut && !r->body_done) {
				shutdown(r->mfd, SHUT_WR);
				mhd_wr_shut = 1;
			}
		} else if (!mhd_eof) {
			p[1].events |= POLLOUT;
		}
		/* MHD -> client. */
		if (r->down_off == r->down_len) {
			r->down_off = r->down_len = 0;
			if (mhd_eof)
				break; /* answered and delivered, or MHD gave up */
			p[1].events |= POLLIN;
		} else {
			p[0].events |= POLLOUT;
		}
		if (mhd_eof && !flush_end)
			flush_end = apf_now_ms() + LINGER_MS;
		if (flush_end && apf_now_ms() >= flush_end)
			break; /* the client does not read its answer */
		if (client_eof && !(p[0].events & POLLOUT))
			p[0].fd = -1; /* else its hang-up wakes every poll */
		if (poll(p, 2, 1000) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN) {
			k = recv(r->cfd, r->up, RELAY_BUF, MSG_DONTWAIT);
			if (k > 0) {
				r->up_len = (size_t)k;
				if (relay_check(r, 0))
					break;
			} else if (k == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
				client_eof = 1;
			}
		} else if (p[0].revents & (POLLHUP | POLLERR) && !(p[0].events & POLLOUT)) {
			client_eof = 1;
		}
		if (p[1].revents & POLLOUT) {
			k = send(r->mfd, r->up + r->up_off, r->up_len - r->up_off, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (k > 0)
				r->up_off += (size_t)k;
			else if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				mhd_eof = 1;
		}
		if (p[1].revents & POLLIN) {
			k = recv(r->mfd, r->down, RELAY_BUF, MSG_DONTWAIT);
			if (k > 0) {
				if (r->answered < sizeof(r->first))
					memcpy(r->first + r->answered, r->down,
					       (size_t)k < sizeof(r->first) - r->answered ? (size_t)k
											 : sizeof(r->first) - r->answered);
				r->answered += (uint64_t)k;
				r->down_len = (size_t)k;
			} else if (k == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
				mhd_eof = 1;
			}
		} else if (p[1].revents & (POLLHUP | POLLERR)) {
			mhd_eof = 1;
		}
		if (p[0].revents & POLLOUT) {
			k = send(r->cfd, r->down + r->down_off, r->down_len - r->down_off, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (k > 0)
				r->down_off += (size_t)k;
			else if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				break; /* the client is gone */
		}
	}
	close(r->mfd); /* MHD sees the end: a request cut short is dropped */
	/* An answer delivered: close as MHD would, reading what the client
	 * still sends for a moment, so that it reads the answer, not a reset. */
	if (mhd_eof && !client_eof && r->down_off == r->down_len) {
		shutdown(r->cfd, SHUT_WR);
		for (int64_t end = apf_now_ms() + LINGER_MS; apf_now_ms() < end;) {
			struct pollfd p = { r->cfd, POLLIN, 0 };
			ssize_t k;

			if (poll(&p, 1, 100) <= 0)
				continue;
			k = recv(r->cfd, r->up, RELAY_BUF, MSG_DONTWAIT);
			if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
				break;
		}
	}
	close(r->cfd);
	free(r->up);
	free(r->down);
	free(r);
	pthread_mutex_lock(&g->lock);
	g->relays--;
	pthread_cond_broadcast(&g->relays_done);
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

/* Starts the relay of a chunked request: *mhd_fd is the end MHD gets.
 * Returns 0, or -1 with errno (the client keeps its socket). */
static int relay_start(struct gate *g, int cfd, size_t head_len, int *mhd_fd)
{
	struct relay *r;
	pthread_attr_t attr;
	pthread_t t;
	int sp[2], e;

	pthread_mutex_lock(&g->lock);
	if (g->relays >= RELAY_MAX) {
		pthread_mutex_unlock(&g->lock);
		errno = EAGAIN;
		return -1;
	}
	g->relays++;
	pthread_mutex_unlock(&g->lock);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp)) {
		e = errno;
		goto undo;
	}
	r = apf_xcalloc(1, sizeof(*r));
	r->g = g;
	r->cfd = cfd;
	r->mfd = sp[1];
	r->head_left = head_len;
	chunkparse_init(&r->cp);
	r->up = apf_xmalloc(RELAY_BUF);
	r->down = apf_xmalloc(RELAY_BUF);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 << 10);
	e = pthread_create(&t, &attr, relay_main, r);
	pthread_attr_destroy(&attr);
	if (e) {
		free(r->up);
		free(r->down);
		free(r);
		close(sp[0]);
		close(sp[1]);
		goto undo;
	}
	*mhd_fd = sp[0];
	return 0;
undo:
	pthread_mutex_lock(&g->lock);
	g->relays--;
	pthread_cond_broadcast(&g->relays_done);
	pthread_mutex_unlock(&g->lock);
	errno = e;
	return -1;
}

/* Hands a connection with a complete, sound head to MHD; a chunked one
 * through a relay. */
static void conn_handoff(struct gate *g, struct conn *c, const struct httphead *h)
{
	struct sockaddr_storage addr = c->addr;
	socklen_t addrlen = c->addrlen;
	int fd = c->fd;

	if (h->chunked) {
		int mfd;

		if (relay_start(g, fd, h->len, &mfd)) {
			char msg[128];

			snprintf(msg, sizeof(msg), "cannot take a chunked body now (%s): send a Content-Length",
				 errno == EAGAIN ? "too many at once" : strerror(errno));
			conn_refuse(g, c, APF_EUNAVAIL, msg);
			return;
		}
		fd = mfd; /* the relay has the client's socket now */
		epoll_ctl(g->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		c->fd = -1;
	}

	list_remove(&g->pending, c);
	if (c->fd >= 0)
		epoll_ctl(g->epfd, EPOLL_CTL_DEL, fd, NULL);
	conn_bury(g, c);
	pthread_mutex_lock(&g->lock);
	g->in_mhd++;
	pthread_mutex_unlock(&g->lock);
	/* MHD closes the socket itself when it refuses it. */
	if (MHD_add_connection(g->daemon, fd, (struct sockaddr *)&addr, addrlen) != MHD_YES) {
		int e = errno;

		pthread_mutex_lock(&g->lock);
		g->in_mhd--;
		g->total--;
		addr_del(g, (struct sockaddr *)&addr);
		pthread_mutex_unlock(&g->lock);
		loglimit_log(&ll_refused, APF_LOG_WARN, "libmicrohttpd refused a connection: %s", strerror(e));
	}
}

/* New bytes on a pending connection: look at the head so far. */
static void conn_peek(struct gate *g, struct conn *c)
{
	struct httphead h;
	struct apf_err err;
	ssize_t n = recv(c->fd, g->buf, sizeof(g->buf), MSG_PEEK | MSG_DONTWAIT);
	int rc;

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(g, c); /* the client went away before its request */
		return;
	}
	if ((size_t)n == c->peeked)
		return;
	c->peeked = (size_t)n;
	apf_err_clear(&err);
	rc = httphead_parse(g->buf, (size_t)n, &h, &err);
	if (rc == HTTPHEAD_MORE)
		return;
	if (rc) {
		loglimit_log(&ll_refused, APF_LOG_DEBUG, "refused a request: %s", err.msg);
		conn_refuse(g, c, rc, err.msg);
		return;
	}
	conn_handoff(g, c, &h);
}

/* Makes room by answering 408 to the oldest connection whose head is
 * still due and has been for EVICT_MIN_AGE_MS (a client that just
 * connected is not slow yet).  same_addr limits the choice to one
 * address.  Returns 0 when it did. */
static int make_room(struct gate *g, const struct sockaddr *same_addr)
{
	unsigned char want[17], key[17];
	int64_t young = apf_now_ms() - EVICT_MIN_AGE_MS;

	if (same_addr)
		addr_key(same_addr, want);
	for (struct conn *c = g->pending.head; c; c = c->next) {
		if (c->accepted > young)
			break; /* the list is in accept order: the rest are younger */
		if (same_addr) {
			addr_key((struct sockaddr *)&c->addr, key);
			if (memcmp(key, want, 17))
				continue;
		}
		conn_refuse(g, c, APF_ETIMEOUT, "no complete request yet, and the connection was needed");
		return 0;
	}
	return -1;
}

static void pause_accepting(struct gate *g, int64_t now)
{
	if (g->listening) {
		epoll_ctl(g->epfd, EPOLL_CTL_DEL, g->listen_fd, NULL);
		g->listening = 0;
	}
	g->paused_until = now + PAUSE_MS;
}

static void resume_accepting(struct gate *g)
{
	struct epoll_event ev;

	g->paused_until = 0;
	if (g->listening || g->listen_fd < 0)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &listen_mark;
	if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->listen_fd, &ev) == 0)
		g->listening = 1;
}

static void accept_some(struct gate *g)
{
	for (int i = 0; i < ACCEPT_BURST; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		struct epoll_event ev;
		struct conn *c;
		int fd = accept4(g->listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int refuse = 0;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* The listening socket stays readable: accepting again at
				 * once would spin.  Free a slot if one is idle, pause a
				 * moment, and say so once in a while. */
				loglimit_log(&ll_fds, APF_LOG_WARN,
					     "cannot accept a connection: %s; pausing for %d ms (%u open)",
					     strerror(errno), PAUSE_MS, g->total);
				if (g->closing.head)
					conn_close(g, g->closing.head);
				else if (g->pending.head)
					conn_close(g, g->pending.head);
				pause_accepting(g, apf_now_ms());
			}
			return; /* EAGAIN, or an error of that one connection */
		}
		c = apf_xcalloc(1, sizeof(*c));
		c->fd = fd;
		c->addr = ss;
		c->addrlen = len;
		c->state = C_PENDING;
		c->accepted = apf_now_ms();
		c->deadline = c->accepted + g->opts.header_timeout_ms;

		pthread_mutex_lock(&g->lock);
		unsigned from_addr = addr_count(g, (struct sockaddr *)&ss), total = g->total;
		pthread_mutex_unlock(&g->lock);
		if (from_addr >= g->opts.max_per_addr && make_room(g, (struct sockaddr *)&ss))
			refuse = 1;
		else if (total >= g->opts.max_conns && make_room(g, NULL))
			refuse = 2;
		if (!refuse) {
			pthread_mutex_lock(&g->lock);
			g->total++;
			addr_add(g, (struct sockaddr *)&ss);
			pthread_mutex_unlock(&g->lock);
			c->counted = 1;
		}
		list_push(&g->pending, c);
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
		ev.data.ptr = c;
		if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			conn_close(g, c);
			continue;
		}
		if (refuse) {
			char msg[128];

			snprintf(msg, sizeof(msg), refuse == 1 ? "too many connections from your address (at most %u)"
							       : "the server is at its connection limit (%u)",
				 refuse == 1 ? g->opts.max_per_addr : g->opts.max_conns);
			loglimit_log(&ll_refused, APF_LOG_INFO, "refused a connection: %s", msg);
			conn_refuse(g, c, APF_EUNAVAIL, msg);
		}
	}
}

static void expire(struct gate *g, int64_t now)
{
	while (g->closing.head && g->closing.head->deadline <= now)
		conn_close(g, g->closing.head);
	while (g->pending.head && g->pending.head->deadline <= now) {
		char msg[96];

		snprintf(msg, sizeof(msg), "the request head did not arrive within %lld ms",
			 (long long)g->opts.header_timeout_ms);
		conn_refuse(g, g->pending.head, APF_ETIMEOUT, msg);
	}
	if (g->paused_until && g->paused_until <= now)
		resume_accepting(g);
}

static int next_timeout(struct gate *g, int64_t now)
{
	int64_t t = INT64_MAX;

	if (g->pending.head)
		t = g->pending.head->deadline;
	if (g->closing.head && g->closing.head->deadline < t)
		t = g->closing.head->deadline;
	if (g->paused_until && g->paused_until < t)
		t = g->paused_until;
	if (t == INT64_MAX)
		return -1;
	return t <= now ? 0 : (int)(t - now > 60000 ? 60000 : t - now);
}

static void stop_listening(struct gate *g)
{
	if (g->listen_fd < 0)
		return;
	if (g->listening)
		epoll_ctl(g->epfd, EPOLL_CTL_DEL, g->listen_fd, NULL);
	close(g->listen_fd);
	g->listen_fd = -1;
	g->listening = 0;
	g->paused_until = 0;
}

static void *gate_main(void *arg)
{
	struct gate *g = arg;
	struct epoll_event evs[64];

	for (;;) {
		int64_t now = apf_now_ms();
		int n, stopping;

		expire(g, now);
		n = epoll_wait(g->epfd, evs, 64, next_timeout(g, now));
		pthread_mutex_lock(&g->lock);
		stopping = g->stopping;
		pthread_mutex_unlock(&g->lock);
		if (stopping)
			break;
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &wake_mark) {
				uint64_t v;
				(void)!read(g->wake_fd, &v, sizeof(v));
			} else if (p == &listen_mark) {
				accept_some(g);
			} else {
				struct conn *c = p;

				if (c->state == C_PENDING)
					conn_peek(g, c);
				else if (c->state == C_CLOSING)
					conn_drain(g, c);
				/* else it left the gate earlier in this round */
			}
		}
		free_dead(g);
	}
	stop_listening(g);
	while (g->pending.head)
		conn_close(g, g->pending.head);
	while (g->closing.head)
		conn_close(g, g->closing.head);
	free_dead(g);
	return NULL;
}

int gate_start(int listen_fd, struct MHD_Daemon *d, const struct gate_opts *opts, struct gate **out,
	       struct apf_err *err)
{
	struct gate *g = apf_xcalloc(1, sizeof(*g));
	struct epoll_event ev;
	int e;

	g->listen_fd = listen_fd;
	g->daemon = d;
	g->opts = *opts;
	g->wake_fd = -1;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->relays_done, NULL);
	g->addrs_cap = opts->max_conns + 8;
	g->closing_max = opts->max_conns / 4 + 2;
	g->addrs = apf_xcalloc(g->addrs_cap, sizeof(*g->addrs));
	g->epfd = epoll_create1(EPOLL_CLOEXEC);
	g->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (g->epfd < 0 || g->wake_fd < 0) {
		e = apf_error(err, APF_EIO, "cannot start the server's gate: %s", strerror(errno));
		goto fail;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &wake_mark;
	epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->wake_fd, &ev);
	resume_accepting(g);
	e = pthread_create(&g->thread, NULL, gate_main, g);
	if (e) {
		e = apf_error(err, APF_EINTERNAL, "cannot start the server's gate thread: %s", strerror(e));
		goto fail;
	}
	g->started = 1;
	*out = g;
	return 0;
fail:
	gate_free(g);
	return e;
}

void gate_conn_closed(struct gate *g, const struct sockaddr *addr)
{
	pthread_mutex_lock(&g->lock);
	if (g->in_mhd)
		g->in_mhd--;
	if (g->total)
		g->total--;
	if (addr)
		addr_del(g, addr);
	pthread_mutex_unlock(&g->lock);
}

unsigned gate_in_mhd(struct gate *g)
{
	unsigned n;

	pthread_mutex_lock(&g->lock);
	n = g->in_mhd;
	pthread_mutex_unlock(&g->lock);
	return n;
}

void gate_quiesce(struct gate *g)
{
	uint64_t one = 1;

	if (!g || !g->started)
		return;
	pthread_mutex_lock(&g->lock);
	g->stopping = 1;
	pthread_mutex_unlock(&g->lock);
	(void)!write(g->wake_fd, &one, sizeof(one));
	pthread_join(g->thread, NULL);
	g->started = 0;
}

void gate_free(struct gate *g)
{
	if (!g)
		return;
	gate_quiesce(g);
	stop_listening(g);
	/* Relays end once MHD has closed its ends (MHD_stop_daemon() came
	 * first) and their answers are delivered, within LINGER_MS. */
	pthread_mutex_lock(&g->lock);
	while (g->relays)
		pthread_cond_wait(&g->relays_done, &g->lock);
	pthread_mutex_unlock(&g->lock);
	pthread_cond_destroy(&g->relays_done);
	if (g->epfd >= 0)
		close(g->epfd);
	if (g->wake_fd >= 0)
		close(g->wake_fd);
	pthread_mutex_destroy(&g->lock);
	free(g->addrs);
	free(g);
}
