/*
 * deliver_server.h: the process skeleton shared by the delivery agents (local, virtual).
 *
 * deliver_server_run() serves one connection at a time on the master's endpoint (fd 3): it
 * accepts, reports busy, says hello (deliver_request.h), and for each request calls the
 * agent's deliver function, which must set a result for every recipient and log each one;
 * the reply goes back on the same connection. When the queue manager closes the connection the
 * agent reports idle. It exits after max_idle seconds without a connection or after max_use
 * connections (each served until the queue manager closes it), as Postfix's servers do.
 */
#ifndef POSTERN_DELIVER_SERVER_H
#define POSTERN_DELIVER_SERVER_H

#include "deliver/deliver_request.h"
#include "master/mail_server.h"

typedef void (*deliver_fn)(deliver_request *req, void *ctx);

/* Returns the process exit status. */
int deliver_server_run(mail_server *srv, deliver_fn fn, void *ctx);

#endif
