/* test_mail_addr.c: address splitting, extensions, FQDN checks and domain folding. */
#include "global/mail_addr.h"
#include "unit.h"

TEST(split_at_last_at)
{
    char l[64], d[64];
    CHECK_INT(mail_addr_split("user@example.com", l, sizeof(l), d, sizeof(d)), 0);
    CHECK_STR(l, "user");
    CHECK_STR(d, "example.com");
    CHECK_INT(mail_addr_split("a@b@c.example", l, sizeof(l), d, sizeof(d)), 0);
    CHECK_STR(l, "a@b");
    CHECK_STR(d, "c.example");
    CHECK_INT(mail_addr_split("postmaster", l, sizeof(l), d, sizeof(d)), 0);
    CHECK_STR(l, "postmaster");
    CHECK_STR(d, "");
    CHECK_INT(mail_addr_split("", l, sizeof(l), d, sizeof(d)), 0);
    CHECK_STR(l, "");
}

TEST(split_refuses_small_buffers)
{
    char l[4], d[4];
    CHECK_INT(mail_addr_split("user@x.y", l, sizeof(l), d, sizeof(d)), -1);
    CHECK_INT(mail_addr_split("abc@longdomain", l, sizeof(l), d, sizeof(d)), -1);
    CHECK_INT(mail_addr_split("abc@x.y", l, sizeof(l), d, sizeof(d)), 0);
}

TEST(strip_extension)
{
    char local[64], ext[64];
    strcpy(local, "user+folder+sub");
    mail_addr_strip_extension(local, "+", ext, sizeof(ext));
    CHECK_STR(local, "user");
    CHECK_STR(ext, "folder+sub");
    strcpy(local, "user-x");
    mail_addr_strip_extension(local, "+-", ext, sizeof(ext));
    CHECK_STR(local, "user");
    CHECK_STR(ext, "x");
    strcpy(local, "plain");
    mail_addr_strip_extension(local, "+", ext, sizeof(ext));
    CHECK_STR(local, "plain");
    CHECK_STR(ext, "");
    strcpy(local, "user+x");
    mail_addr_strip_extension(local, "", NULL, 0);
    CHECK_STR(local, "user+x");
    strcpy(local, "+lead");
    mail_addr_strip_extension(local, "+", NULL, 0);
    CHECK_STR(local, "+lead");
    char small[3];
    strcpy(local, "u+abcdef");
    mail_addr_strip_extension(local, "+", small, sizeof(small));
    CHECK_STR(local, "u");
    CHECK_STR(small, "ab");
}

TEST(fqdn)
{
    CHECK(mail_addr_domain_is_fqdn("example.com"));
    CHECK(mail_addr_domain_is_fqdn("mx-1.example.com."));
    CHECK(mail_addr_domain_is_fqdn("[192.0.2.1]"));
    CHECK(!mail_addr_domain_is_fqdn("localhost"));
    CHECK(!mail_addr_domain_is_fqdn("localhost."));
    CHECK(!mail_addr_domain_is_fqdn(""));
    CHECK(!mail_addr_domain_is_fqdn("a..b"));
    CHECK(!mail_addr_domain_is_fqdn(".a.b"));
    CHECK(!mail_addr_domain_is_fqdn("a b.c"));
    CHECK(!mail_addr_domain_is_fqdn("[]"));
    char label[80];
    memset(label, 'a', 64);
    strcpy(label + 64, ".com");
    CHECK(!mail_addr_domain_is_fqdn(label));
}

TEST(fold_domain)
{
    char a[64];
    strcpy(a, "User@EXAMPLE.Com");
    mail_addr_fold_domain(a);
    CHECK_STR(a, "User@example.com");
    strcpy(a, "NoDomain");
    mail_addr_fold_domain(a);
    CHECK_STR(a, "NoDomain");
}

int main(void)
{
    RUN(split_at_last_at);
    RUN(split_refuses_small_buffers);
    RUN(strip_extension);
    RUN(fqdn);
    RUN(fold_domain);
    UNIT_MAIN_END("test_mail_addr");
}
