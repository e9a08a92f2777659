/*
 * fuzz_queue_file.c: libFuzzer target for the queue file reader.
 *
 * Each input is written to a memfd and read as a queue file: queue_envelope_read(), then, when
 * the envelope parses, queue_content_each() over the content, then postcat's formatter over the
 * whole file. Each content line also goes through the To:/Cc: address-list parser, which
 * sees the same hostile text in cleanup. Any crash, leak or sanitizer report is a bug: queue files are input like any other.
 */
#include "cleanup/header_addr.h"
#include "cmd/postcat.h"
#include "queue/queue_file.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static int ignore_address(const char *addr, void *ctx)
{
    (void)addr;
    (void)ctx;
    return 0;
}

static int count_bytes(const char *data, size_t len, int partial, void *ctx)
{
    size_t *total = ctx;
    header_addr_each(data, len, 100, ignore_address, NULL);
    *total += len + (partial ? 0 : 1);
    if (len > 0 && data[0] == '\x01') /* exercise the early-stop path too */
        return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz-queue-file", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    queue_envelope env;
    strbuf err;
    strbuf_init(&err, 0);
    if (queue_envelope_read(fd, &env, &err) == 0) {
        size_t total = 0;
        queue_content_each(fd, &env, count_bytes, &total);
        for (size_t i = 0; i < env.nrcpt; i++)
            (void)queue_envelope_attr(&env, env.rcpts[i].address);
        queue_envelope_free(&env);
    }
    strbuf_free(&err);
    static FILE *sink;
    if (sink == NULL)
        sink = fopen("/dev/null", "w");
    if (sink != NULL)
        postcat_format(fd, "fuzz", 0, sink);
    close(fd);
    return 0;
}
