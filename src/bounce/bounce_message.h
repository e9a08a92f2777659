/*
 * bounce_message.h: writing one delivery status notification as a new queue file.
 *
 * bounce_message_queue() builds the RFC 3464 multipart/report for one notice (headers, the
 * human-readable part, the message/delivery-status part and the original message or its
 * headers) and queues it through cleanup with the notice's envelope sender and recipient. It
 * decides nothing about who is told: bounce.c does. Internal to src/bounce/.
 */
#ifndef POSTERN_BOUNCE_MESSAGE_H
#define POSTERN_BOUNCE_MESSAGE_H

#include "bounce/bounce.h"

typedef enum {
    BOUNCE_TO_SENDER,            /* the original sender: full text */
    BOUNCE_TO_POSTMASTER_COPY,   /* notify_classes copy: postmaster subject, headers only */
    BOUNCE_TO_POSTMASTER_DOUBLE, /* undeliverable bounce: postmaster subject */
} bounce_audience;

typedef struct bounce_notice {
    bounce_kind kind;
    bounce_audience audience;
    const char *recipient; /* envelope recipient of the notice */
    const char *sender;    /* envelope sender of the notice: "" or the double-bounce address */
    int headers_only;      /* return the original's headers only */
    const bounce_rcpt **rcpts;
    size_t nrcpt;
} bounce_notice;

/* Returns 0 with the new queue id in id, or -1 with the reason in err (nothing is queued). */
int bounce_message_queue(int fd, const queue_envelope *env, const bounce_notice *notice, char *id,
                         size_t id_len, strbuf *err);

#endif
