/*
 * master.h: the master's internal interface, shared by master.c (start, signals, reload, stop),
 * master_service.c (endpoints and the service table) and master_spawn.c (child processes).
 *
 * A master_service is one endpoint: an inet entry whose host part expands to several addresses
 * (inet_interfaces) becomes one master_service per address, each with its own processes. Its
 * key ("inet:127.0.0.1:2525", "unix:/queue/private/local") says whether a service survives a
 * reload: the new table takes over the endpoint of an old service with the same key, so no
 * connection is dropped.
 *
 * Spawning follows Postfix: the master watches an endpoint only while the service has no idle
 * process, is below maxproc and is not throttled; when the endpoint becomes readable it starts
 * one process, which counts as idle until it reports busy on the status pipe.
 */
#ifndef POSTERN_MASTER_H
#define POSTERN_MASTER_H

#include "lib/config.h"
#include "lib/event.h"
#include "master/master_cf.h"

#include <sys/types.h>

#define MASTER_VERSION_TEXT "0.1.0"
#define MASTER_STOP_GRACE_MS 10000
/* Age (seconds) after which an incomplete file in incoming/ is removed at master start. */
#define MASTER_INCOMPLETE_GRACE 10

typedef struct master_state master_state;

typedef struct master_service {
    master_state *master;
    char *key;                    /* identity across reloads */
    char *label;                  /* for log lines: "127.0.0.1:2525", "private/local" */
    const master_cf_entry *entry; /* in master->mcf */
    int listen_fd;
    char *path;          /* unix/fifo endpoint path, NULL for inet */
    int status_read;     /* status pipe, read end (watched) */
    int status_write;    /* status pipe, write end (children's fd 4) */
    char status_buf[64]; /* partial master_status record */
    size_t status_len;
    int nchildren; /* children that count against maxproc (see master_child.counted) */
    int nidle;     /* current-generation children that said they are idle; never < 0 */
    int throttled;
    event_timer_id throttle_timer;
    event_timer_id wakeup_timer;
    int used; /* a process was started since the last wake-up */
    struct master_service *next;
} master_service;

typedef struct master_child {
    pid_t pid;
    master_service *service; /* NULL once its service is gone */
    int retired;             /* from before a reload: finishing its work, never idle */
    int counted;             /* included in service->nchildren */
    int idle;                /* included in service->nidle (never for a retired child) */
    int reported;            /* sent at least one status record */
    int signalled; /* the master sent it a signal; its death is no failure */
    struct master_child *next;
} master_child;

struct master_state {
    event_loop *loop;
    config *cfg;
    master_cf *mcf;
    master_service *services;
    master_child *children;
    char *config_dir;
    char *queue_dir;
    char *daemon_dir;
    int stopping;
};

/* master.c */
/* queue_directory/process_id_directory/master.pid (an absolute process_id_directory is used
 * as is); free() the result. */
char *master_pid_path(config *cfg);

/* master_service.c */
/* Builds services for every implemented entry of mcf, taking endpoints from old (which may be
 * NULL) when keys match; services are not started. Returns the list, or NULL with err set (and
 * nothing leaked) when an endpoint cannot be opened. old is left with the endpoints that were
 * not taken over (listen_fd -1 for the ones that were). */
int master_services_build(master_state *m, const master_cf *mcf, master_service *old,
                          master_service **out, strbuf *err);
/* Starts watching endpoints, wake-up timers and the processes that start at once. */
void master_service_start(master_service *svc);
/* Stops watching, closes the endpoint and frees; children are detached (service = NULL).
 * remove != 0 means the service is gone for good: an inet listener is shut down (also in the
 * children that share it) and a unix/fifo path is unlinked. */
void master_service_free(master_service *svc, int remove);
/* Recomputes whether the endpoint is watched. */
void master_service_update_watch(master_service *svc);
/* Throttles the service after a failure for service_throttle_time; at_startup says the
 * process failed before it reported any status (Postfix's "bad command startup"). */
void master_service_throttle(master_service *svc, int at_startup);
/* After one of svc's processes exited: throttle when it failed, restart wake-up services. */
void master_service_child_exited(master_service *svc, int failed, int at_startup);

/* master_spawn.c */
/* Starts one process for svc; returns 0 or -1 (logged, service throttled). */
int master_spawn(master_service *svc);
/* Reaps every exited child; logs and throttles after abnormal exits. */
void master_reap_children(master_state *m);
/* Reads busy/idle records from svc's status pipe. */
void master_read_status(master_service *svc);
/* Sends sig to every child (of svc, or all when svc is NULL) and marks them signalled. */
void master_signal_children(master_state *m, master_service *svc, int sig);
/* Detaches svc's children: they no longer count for svc (used when svc goes away). */
void master_detach_children(master_state *m, master_service *svc);
/* Moves from's children to to as retired processes (reload of a service that stays). A retired
 * process is never idle for to (it takes no new work, so it must not keep the master from
 * starting a fresh one). It keeps counting against to's maxproc until it exits, so e.g. two
 * qmgrs or more delivery agents than maxproc never overlap; except for inet services, whose
 * retired smtpd has stopped accepting: counting it would leave new clients without a banner
 * until its last old session ends. */
void master_transfer_children(master_state *m, master_service *from, master_service *to);

/* The master's entry point: postfix start runs it. */
int master_main(int argc, char **argv);

#endif
