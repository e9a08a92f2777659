/* test_resolve.c: address classes, transports, transport_maps, relayhost, recipient checks. */
#include "global/resolve.h"
#include "lib/config.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];

/* Loads main.cf with text (plus a fixed base) as the current configuration. */
static config *use_config(const char *text)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/main.cf", tmpdir);
    FILE *fp = fopen(path, "w");
    fputs("myhostname = mx.example.test\nmydomain = example.test\n"
          "mydestination = $myhostname, localhost.$mydomain, localhost\n"
          "alias_maps =\n",
          fp);
    fputs(text, fp);
    fclose(fp);
    strbuf err;
    strbuf_init(&err, 0);
    config *cfg = config_load(tmpdir, &err);
    if (cfg == NULL)
        fprintf(stderr, "config: %s\n", err.data);
    strbuf_free(&err);
    config_set_current(cfg);
    return cfg;
}

static void done_config(config *cfg)
{
    config_set_current(NULL);
    config_free(cfg);
}

/* Resolves addr and returns "class|transport|nexthop|address" in buf. */
static const char *resolve_text(resolver *r, const char *addr, char *buf, size_t len)
{
    resolved res;
    strbuf err;
    strbuf_init(&err, 0);
    if (resolve_address(r, addr, &res, &err) < 0)
        snprintf(buf, len, "error: %s", err.data);
    else
        snprintf(buf, len, "%s|%s|%s|%s", addr_class_name(res.cls), res.transport, res.nexthop,
                 res.address);
    strbuf_free(&err);
    return buf;
}

static int known(resolver *r, const char *addr)
{
    resolved res;
    strbuf err;
    strbuf_init(&err, 0);
    int k = resolve_address(r, addr, &res, &err);
    if (k == 0)
        k = resolve_recipient_known(r, &res, &err);
    strbuf_free(&err);
    return k;
}

TEST(classes_and_default_transports)
{
    config *cfg = use_config("virtual_mailbox_domains = virtual.test\n"
                             "virtual_alias_domains = alias.test\n"
                             "relay_domains = relay.test\n");
    strbuf err;
    strbuf_init(&err, 0);
    resolver *r = resolver_open(&err);
    char b[2200];
    CHECK_STR(resolve_text(r, "joe@MX.Example.TEST", b, sizeof(b)),
              "local|local|mx.example.test|joe@mx.example.test");
    CHECK_STR(resolve_text(r, "joe", b, sizeof(b)),
              "local|local|mx.example.test|joe@mx.example.test");
    CHECK_STR(resolve_text(r, "joe@localhost", b, sizeof(b)),
              "local|local|mx.example.test|joe@localhost");
    CHECK_STR(resolve_text(r, "joe@[127.0.0.1]", b, sizeof(b)),
              "local|local|mx.example.test|joe@[127.0.0.1]");
    CHECK_STR(resolve_text(r, "joe@mx.example.test.", b, sizeof(b)),
              "local|local|mx.example.test|joe@mx.example.test");
    CHECK_STR(resolve_text(r, "user@virtual.test", b, sizeof(b)),
              "virtual mailbox|virtual|virtual.test|user@virtual.test");
    CHECK_STR(resolve_text(r, "a@alias.test", b, sizeof(b)),
              "virtual alias|error|5.1.1 User unknown in virtual alias table|a@alias.test");
    CHECK_STR(resolve_text(r, "a@relay.test", b, sizeof(b)),
              "relay|relay|relay.test|a@relay.test");
    CHECK_STR(resolve_text(r, "Bob@Remote.Example", b, sizeof(b)),
              "default|smtp|remote.example|Bob@remote.example");
    CHECK_STR(resolve_text(r, "x@[192.0.2.1]", b, sizeof(b)),
              "default|smtp|[192.0.2.1]|x@[192.0.2.1]");
    resolver_close(r);
    strbuf_free(&err);
    done_config(cfg);
}

TEST(relayhost_and_transport_params)
{
    config *cfg = use_config("relayhost = [10.0.0.1]:587\nrelay_domains = relay.test\n"
                             "myorigin = example.test\nlocal_transport = local\n"
                             "virtual_transport = lmtp:unix:private/dovecot-lmtp\n"
                             "virtual_mailbox_domains = virtual.test\n");
    strbuf err;
    strbuf_init(&err, 0);
    resolver *r = resolver_open(&err);
    char b[2200];
    CHECK_STR(resolve_text(r, "a@remote.example", b, sizeof(b)),
              "default|smtp|[10.0.0.1]:587|a@remote.example");
    CHECK_STR(resolve_text(r, "a@relay.test", b, sizeof(b)),
              "relay|relay|[10.0.0.1]:587|a@relay.test");
    CHECK_STR(resolve_text(r, "joe", b, sizeof(b)), "default|smtp|[10.0.0.1]:587|joe@example.test");
    CHECK_STR(resolve_text(r, "joe@localhost", b, sizeof(b)),
              "local|local|mx.example.test|joe@localhost");
    CHECK_STR(resolve_text(r, "u@virtual.test", b, sizeof(b)),
              "virtual mailbox|lmtp|unix:private/dovecot-lmtp|u@virtual.test");
    resolver_close(r);
    strbuf_free(&err);
    done_config(cfg);
}

TEST(transport_maps_search_order)
{
    config *cfg = use_config(
        "recipient_delimiter = +\n"
        "transport_maps = inline:{ special@remote.example=smtp:[192.0.2.9], "
        "remote.example=relay:, .sub.example=uucp:gateway, only.example=:[192.0.2.7], "
        "joe@mx.example.test=error:gone }\n");
    strbuf err;
    strbuf_init(&err, 0);
    resolver *r = resolver_open(&err);
    char b[2200];
    CHECK_STR(resolve_text(r, "special@remote.example", b, sizeof(b)),
              "default|smtp|[192.0.2.9]|special@remote.example");
    CHECK_STR(resolve_text(r, "special+x@remote.example", b, sizeof(b)),
              "default|smtp|[192.0.2.9]|special+x@remote.example");
    CHECK_STR(resolve_text(r, "other@remote.example", b, sizeof(b)),
              "default|relay|remote.example|other@remote.example");
    CHECK_STR(resolve_text(r, "a@b.sub.example", b, sizeof(b)),
              "default|uucp|gateway|a@b.sub.example");
    CHECK_STR(resolve_text(r, "a@sub.example", b, sizeof(b)),
              "default|smtp|sub.example|a@sub.example");
    CHECK_STR(resolve_text(r, "a@only.example", b, sizeof(b)),
              "default|smtp|[192.0.2.7]|a@only.example");
    CHECK_STR(resolve_text(r, "joe", b, sizeof(b)),
              "local|error|gone|joe@mx.example.test");
    resolver_close(r);
    strbuf_free(&err);
    done_config(cfg);
}

TEST(recipient_known)
{
    config *cfg = use_config(
        "recipient_delimiter = +\n"
        "local_recipient_maps = inline:{ joe=x, root=x }\n"
        "virtual_mailbox_domains = virtual.test, catchall.test\n"
        "virtual_mailbox_maps = inline:{ user@virtual.test=user/, @catchall.test=all/ }\n"
        "virtual_alias_maps = inline:{ alias@virtual.test=user@virtual.test }\n");
    strbuf err;
    strbuf_init(&err, 0);
    resolver *r = resolver_open(&err);
    CHECK_INT(known(r, "joe@mx.example.test"), 1);
    CHECK_INT(known(r, "joe+ext@localhost"), 1);
    CHECK_INT(known(r, "nobody-here@mx.example.test"), 0);
    CHECK_INT(known(r, "Postmaster@localhost"), 1);
    CHECK_INT(known(r, "MAILER-DAEMON"), 1);
    CHECK_INT(known(r, "user@virtual.test"), 1);
    CHECK_INT(known(r, "user+tag@virtual.test"), 1);
    CHECK_INT(known(r, "other@virtual.test"), 0);
    CHECK_INT(known(r, "alias@virtual.test"), 1);
    CHECK_INT(known(r, "anything@catchall.test"), 1);
    CHECK_INT(known(r, "someone@remote.example"), 1);
    resolver_close(r);
    strbuf_free(&err);
    done_config(cfg);
}

TEST(empty_local_recipient_maps_accepts_all)
{
    config *cfg = use_config("local_recipient_maps =\n");
    strbuf err;
    strbuf_init(&err, 0);
    resolver *r = resolver_open(&err);
    CHECK_INT(known(r, "whoever@localhost"), 1);
    resolver_close(r);
    strbuf_free(&err);
    done_config(cfg);
}

/* A value too long for the resolved fields is a clear error (the mail is deferred with it),
 * never a cut nexthop or a silently ignored transport. */
TEST(over_long_transport_and_nexthop_are_errors_not_cuts)
{
    char hop[700], name[100], text[2000];
    memset(hop, 'h', sizeof(hop) - 1);
    hop[sizeof(hop) - 1] = '\0';
    memset(name, 't', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    snprintf(text, sizeof(text),
             "transport_maps = inline:{ long.example=smtp:%s, name.example=%s:x }\n", hop, name);
    config *cfg = use_config(text);
    strbuf err;
    strbuf_init(&err, 0);
    resolver *r = resolver_open(&err);
    char b[2200];
    resolve_text(r, "a@long.example", b, sizeof(b));
    CHECK(strncmp(b, "error: transport_maps: nexthop \"hhhh", 35) == 0);
    CHECK(strstr(b, "is longer than 511 bytes") != NULL);
    resolve_text(r, "a@name.example", b, sizeof(b));
    CHECK(strncmp(b, "error: transport_maps: transport name \"tttt", 43) == 0);
    resolver_close(r);
    done_config(cfg);
    snprintf(text, sizeof(text), "relay_domains = relay.test\nrelayhost = [%s]\n", hop);
    cfg = use_config(text);
    r = resolver_open(&err);
    resolve_text(r, "a@relay.test", b, sizeof(b));
    CHECK(strncmp(b, "error: relayhost: nexthop \"[hhh", 31) == 0);
    resolver_close(r);
    strbuf_free(&err);
    done_config(cfg);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/postern-unit-resolve-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return 2;
    RUN(classes_and_default_transports);
    RUN(relayhost_and_transport_params);
    RUN(transport_maps_search_order);
    RUN(recipient_known);
    RUN(empty_local_recipient_maps_accepts_all);
    RUN(over_long_transport_and_nexthop_are_errors_not_cuts);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    UNIT_MAIN_END("test_resolve");
}
