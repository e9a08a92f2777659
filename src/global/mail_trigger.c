/* mail_trigger.c: wakes a trigger service under the queue directory (see mail_trigger.h). */
#include "global/mail_trigger.h"
#include "lib/fixed_str.h"
#include "lib/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int trigger_socket(const char *path, int type, char code)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (fixed_copy(sun.sun_path, sizeof(sun.sun_path), path) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int rc = 0;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        /* A full backlog means wake-ups are already pending: good enough. */
        rc = (errno == EAGAIN || errno == EINPROGRESS) ? 0 : -1;
        int saved = errno;
        close(fd);
        errno = saved;
        return rc;
    }
    if (send(fd, &code, 1, MSG_NOSIGNAL) < 0 && errno != EAGAIN)
        rc = -1;
    close(fd);
    return rc;
}

/* Wakes the FIFO or socket at full. */
static int trigger_path(const char *full, char code)
{
    struct stat st;
    if (stat(full, &st) < 0)
        return -1;
    if (S_ISFIFO(st.st_mode)) {
        int fd = open(full, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            return -1; /* ENXIO: nobody reads the FIFO */
        ssize_t w = write(fd, &code, 1);
        int rc = (w == 1 || (w < 0 && errno == EAGAIN)) ? 0 : -1;
        close(fd);
        return rc;
    }
    if (S_ISSOCK(st.st_mode)) {
        if (trigger_socket(full, SOCK_STREAM, code) == 0)
            return 0;
        if (errno == EPROTOTYPE)
            return trigger_socket(full, SOCK_DGRAM, code);
        return -1;
    }
    errno = EINVAL;
    return -1;
}

int mail_trigger(const char *queue_dir, const char *path, char code)
{
    strbuf buf;
    strbuf_path_init(&buf);
    int rc =
        strbuf_path_printf(&buf, "%s/%s", queue_dir, path) < 0 ? -1 : trigger_path(buf.data, code);
    int saved = errno;
    strbuf_free(&buf);
    errno = saved;
    return rc;
}
