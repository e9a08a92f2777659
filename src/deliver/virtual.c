/*
 * virtual.c: the virtual delivery agent, for virtual mailbox domains.
 *
 * For each recipient: virtual_mailbox_maps gives the mailbox, searched for the full address,
 * the address without its recipient_delimiter extension, then "@domain" (a catch-all). The
 * mailbox is virtual_mailbox_base/VALUE: a Maildir when VALUE ends in '/', else an mbox file
 * (locked per virtual_mailbox_lock, bounded by virtual_mailbox_limit). virtual_uid_maps and
 * virtual_gid_maps (same search order; "static:N" is common) give the owner, which must not be
 * below virtual_minimum_uid. Running as root, the write happens with that uid/gid; as another
 * user, the agent writes as itself. Each recipient's result is logged with relay=virtual.
 */
#include "deliver/addr_parts.h"
#include "deliver/deliver_privs.h"
#include "deliver/deliver_server.h"
#include "deliver/mail_copy.h"
#include "deliver/maildir.h"
#include "deliver/mbox.h"
#include "global/mail_addr.h"
#include "global/mail_params.h"
#include "lib/config.h"
#include "lib/log.h"
#include "maps/map.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Settings and tables, loaded and checked once when the agent starts (a reload starts new
 * agents). */
typedef struct virtual_tables {
    map_list *mailbox;
    map_list *uid;
    map_list *gid;
    const char *base;        /* virtual_mailbox_base, shorter than PATH_MAX */
    const char *delimiters;  /* recipient_delimiter */
    long minimum_uid;        /* virtual_minimum_uid */
    long long mailbox_limit; /* virtual_mailbox_limit */
    int lock_methods;        /* virtual_mailbox_lock */
} virtual_tables;

/* Searches a table for address, address without extension, then @domain. 1, 0 or -1. */
static int lookup_address(map_list *ml, const char *delims, const char *address, strbuf *value)
{
    if (map_list_empty(ml))
        return 0;
    int found = map_list_lookup(ml, address, value);
    if (found != 0)
        return found;
    addr_parts parts; /* the whole local part: a long one is looked up, not skipped */
    addr_parts_split(&parts, address, delims);
    strbuf key;
    strbuf_init(&key, 0);
    if (strcmp(parts.bare, parts.local) != 0) {
        strbuf_printf(&key, "%s@%s", parts.bare, parts.domain);
        found = map_list_lookup(ml, key.data, value);
    }
    if (found == 0 && parts.domain[0] != '\0') {
        strbuf_reset(&key);
        strbuf_printf(&key, "@%s", parts.domain);
        found = map_list_lookup(ml, key.data, value);
    }
    strbuf_free(&key);
    addr_parts_free(&parts);
    return found;
}

/* Looks up a numeric id. 0 ok, -1 with dsn/why. */
static int lookup_id(virtual_tables *t, map_list *ml, const char *param, const char *address,
                     long *id, deliver_rcpt *r)
{
    strbuf value;
    strbuf_init(&value, 4096);
    int found = lookup_address(ml, t->delimiters, address, &value);
    int rc = -1;
    if (found < 0) {
        deliver_set_result(r, "4.3.0", "%s lookup error for \"%s\"", param, address);
    } else if (found == 0) {
        deliver_set_result(r, "4.3.0", "recipient %s: uid or gid not found in %s", address,
                           param);
    } else {
        char *end;
        errno = 0;
        long v = strtol(value.data, &end, 10);
        if (errno != 0 || end == value.data || *end != '\0' || v < 0) {
            log_warning("%s: bad value \"%s\" for %s", param, value.data, address);
            deliver_set_result(r, "4.3.0", "mail system configuration error");
        } else {
            *id = v;
            rc = 0;
        }
    }
    strbuf_free(&value);
    return rc;
}

/* Creates the parent directory of an mbox path (mkdir -p). */
static int make_parent_dirs(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL || slash == path)
        return 0;
    strbuf dir;
    strbuf_path_init(&dir);
    int rc = strbuf_path_printf(&dir, "%.*s", (int)(slash - path), path);
    if (rc == 0)
        rc = maildir_make_dirs(dir.data, 0700);
    strbuf_free(&dir);
    return rc;
}

static void deliver_one(virtual_tables *t, deliver_request *req, mail_source *src,
                        deliver_rcpt *r)
{
    strbuf value, why;
    strbuf_init(&value, 0);
    strbuf_init(&why, 0);
    int found = lookup_address(t->mailbox, t->delimiters, r->address, &value);
    long uid = -1, gid = -1;
    if (found < 0) {
        deliver_set_result(r, "4.3.0", "virtual_mailbox_maps lookup error for \"%s\"",
                           r->address);
    } else if (found == 0) {
        deliver_set_result(r, "5.1.1", "unknown user: \"%s\"", r->address);
    } else if (strstr(value.data, "..") != NULL) {
        log_warning("virtual_mailbox_maps: refusing \"%s\" for %s", value.data, r->address);
        deliver_set_result(r, "4.3.0", "mail system configuration error");
    } else if (lookup_id(t, t->uid, "virtual_uid_maps", r->address, &uid, r) == 0 &&
               lookup_id(t, t->gid, "virtual_gid_maps", r->address, &gid, r) == 0) {
        if (uid < t->minimum_uid) {
            log_warning("recipient %s: bad uid %ld in virtual_uid_maps", r->address, uid);
            deliver_set_result(r, "4.3.0", "mail system configuration error");
        } else {
            strbuf path;
            strbuf_path_init(&path);
            const char *base = t->base;
            int loop = mail_copy_loop_check(src, r->address, &why);
            char dsn[DSN_MAX] = "4.3.0";
            if (strbuf_path_printf(&path, "%s%s%s", base,
                                   base[0] && base[strlen(base) - 1] != '/' ? "/" : "",
                                   value.data) < 0) {
                log_warning("recipient %s: virtual_mailbox_base %s and mailbox %s: %s",
                            r->address, base, value.data, strerror(errno));
                deliver_set_result(r, "4.3.5",
                                   "mail system configuration error: mailbox path too long");
            } else if (loop != 0) {
                deliver_set_result(r, loop > 0 ? "5.4.6" : "4.3.0", "%s", why.data);
            } else if (deliver_privs_enter((uid_t)uid, (gid_t)gid, &why) < 0) {
                deliver_set_result(r, "4.3.0", "%s", why.data);
            } else {
                int is_maildir = path.len > 0 && path.data[path.len - 1] == '/';
                int rc;
                if (is_maildir) {
                    rc = maildir_deliver(path.data, src, req->sender, r->address, 0, dsn, &why);
                } else if (make_parent_dirs(path.data) < 0) {
                    strbuf_printf(&why, "cannot create directory for %s: %s", path.data,
                                  strerror(errno));
                    rc = -1;
                } else {
                    rc = mbox_deliver(path.data, src, req->sender, r->address,
                                      t->mailbox_limit, t->lock_methods, dsn, &why);
                }
                deliver_privs_leave();
                if (rc == 0)
                    deliver_set_result(r, "2.0.0", "delivered to %s",
                                       is_maildir ? "maildir" : "mailbox");
                else
                    deliver_set_result(r, dsn, "%s", why.data);
            }
            strbuf_free(&path);
        }
    }
    deliver_log(req, r->address, r->orig, "virtual", r->dsn, r->reason);
    strbuf_free(&value);
    strbuf_free(&why);
}

static void virtual_deliver(deliver_request *req, void *ctx)
{
    virtual_tables *t = ctx;
    mail_source src;
    if (mail_source_open_or_defer(&src, req, "virtual") < 0)
        return;
    for (size_t i = 0; i < req->nrcpt; i++)
        deliver_one(t, req, &src, &req->rcpts[i]);
    mail_source_close(&src);
}

static map_list *open_table(const char *param)
{
    strbuf err;
    strbuf_init(&err, 0);
    map_list *ml = map_list_open(cfg_str(param), &err);
    if (ml == NULL)
        log_fatal("%s: %s", param, err.data);
    strbuf_free(&err);
    return ml;
}

int virtual_main(int argc, char **argv)
{
    mail_server srv;
    mail_server_init(&srv, "virtual", argc, argv);
    virtual_tables t = {.mailbox = open_table("virtual_mailbox_maps"),
                        .uid = open_table("virtual_uid_maps"),
                        .gid = open_table("virtual_gid_maps")};
    t.base = cfg_str("virtual_mailbox_base");
    if (strlen(t.base) >= PATH_MAX)
        log_fatal("file %s: parameter virtual_mailbox_base: path longer than %d bytes",
                  config_main_cf(srv.cfg), PATH_MAX - 1);
    t.delimiters = mail_params_current()->recipient_delimiter;
    t.minimum_uid = cfg_int("virtual_minimum_uid");
    t.mailbox_limit = cfg_size("virtual_mailbox_limit");
    t.lock_methods = mbox_lock_methods(cfg_str("virtual_mailbox_lock"));
    int rc = deliver_server_run(&srv, virtual_deliver, &t);
    map_list_close(t.mailbox);
    map_list_close(t.uid);
    map_list_close(t.gid);
    return rc;
}
