/* test_core.c - diagnostics, strings, durations, host and label syntax. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "core/core.h"
#include "config/schema.h"

START_TEST(diag_format_and_json)
{
	mesh_diag *d;
	ck_assert_int_eq(mesh_diag_new(&d), 0);
	mesh__diag_add(d, MESH_SEV_ERROR, NULL, "vs.yaml", 14, 11, "spec.http[0].route[1].weight",
	               "weights must sum to 100, got %d", 90);
	mesh__diag_add(d, MESH_SEV_WARNING, "MESH0001", "a \"q\".yaml", 3, 1, NULL, "tab\there");
	mesh__diag_add(d, MESH_SEV_NOTE, NULL, NULL, 0, 0, NULL, "plain");
	ck_assert_uint_eq(mesh_diag_count(d), 3);
	ck_assert_uint_eq(mesh_diag_count_severity(d, MESH_SEV_ERROR), 1);
	char *s = mesh_diag_format(d, 0);
	ck_assert_str_eq(s, "vs.yaml:14:11: error: spec.http[0].route[1].weight: weights must sum "
	                    "to 100, got 90");
	mesh_free(s);
	s = mesh_diag_format(d, 1);
	ck_assert_str_eq(s, "a \"q\".yaml:3:1: warning: tab\there [MESH0001]");
	mesh_free(s);
	s = mesh_diag_format(d, 2);
	ck_assert_str_eq(s, "note: plain");
	mesh_free(s);
	ck_assert_ptr_null(mesh_diag_format(d, 3));
	s = mesh_diag_to_json(d);
	ck_assert_str_eq(
		s, "[{\"severity\":\"error\",\"code\":null,\"file\":\"vs.yaml\",\"line\":14,"
		   "\"column\":11,\"path\":\"spec.http[0].route[1].weight\",\"message\":"
		   "\"weights must sum to 100, got 90\"},{\"severity\":\"warning\",\"code\":"
		   "\"MESH0001\",\"file\":\"a \\\"q\\\".yaml\",\"line\":3,\"column\":1,\"path\":"
		   "null,\"message\":\"tab\\there\"},{\"severity\":\"note\",\"code\":null,"
		   "\"file\":null,\"line\":0,\"column\":0,\"path\":null,\"message\":\"plain\"}]");
	mesh_free(s);
	mesh_diag_clear(d);
	ck_assert_uint_eq(mesh_diag_count(d), 0);
	mesh_diag_free(d);
	mesh_diag_free(NULL);
}
END_TEST

START_TEST(diag_is_bounded)
{
	mesh_diag *d;
	ck_assert_int_eq(mesh_diag_new(&d), 0);
	for (int i = 0; i < 5000; i++)
		mesh__diag_add(d, MESH_SEV_ERROR, NULL, "f", 1, 1, NULL, "e%d", i);
	ck_assert_uint_eq(mesh_diag_count(d), MESH_DIAG_MAX);
	ck_assert_str_eq(mesh_diag_message(d, MESH_DIAG_MAX - 1),
	                 "too many diagnostics; the rest are left out");
	mesh_diag_free(d);
}
END_TEST

START_TEST(strbuf_basics)
{
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	for (int i = 0; i < 1000; i++)
		mesh__sb_printf(&sb, "%d,", i);
	ck_assert_uint_eq(sb.len, strlen(mesh__sb_str(&sb)));
	mesh__sb_truncate(&sb, 4);
	ck_assert_str_eq(mesh__sb_str(&sb), "0,1,");
	char *p = mesh__sb_steal(&sb);
	ck_assert_str_eq(p, "0,1,");
	ck_assert_uint_eq(sb.len, 0);
	mesh_free(p);
}
END_TEST

START_TEST(edit_distance)
{
	ck_assert_uint_eq(mesh__edit_distance("hosts", "hots", 3), 1);
	ck_assert_uint_eq(mesh__edit_distance("hosts", "hosts", 3), 0);
	ck_assert_uint_eq(mesh__edit_distance("timeout", "tiemout", 3), 2);
	ck_assert_uint_gt(mesh__edit_distance("route", "mirrorPercentage", 3), 3);
}
END_TEST

START_TEST(durations)
{
	static const struct {
		const char *s;
		int64_t ns;
	} ok[] = {
		{ "1.5s", 1500000000LL },
		{ "100ms", 100000000LL },
		{ "1h", 3600000000000LL },
		{ "1h30m", 5400000000000LL },
		{ "0", 0 },
		{ "0s", 0 },
		{ "250us", 250000 },
		{ "3m", 180000000000LL },
		{ "10ns", 10 },
		{ ".5s", 500000000LL },
		{ "4.2s", 4200000000LL },
		{ "8.4s", 8400000000LL },
		{ "2.1ms", 2100000LL },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t ns = -1;
		const char *err = mesh__parse_duration(ok[i].s, &ns);
		ck_assert_msg(err == NULL, "%s: %s", ok[i].s, err);
		ck_assert_int_eq(ns, ok[i].ns);
	}
	static const struct {
		const char *s, *err;
	} bad[] = {
		{ "1.5", "missing unit (use e.g. 1.5s, 100ms or 1h)" },
		{ "10x", "unknown unit (use ns, us, ms, s, m or h)" },
		{ "-1s", "must not be negative" },
		{ "", "empty duration" },
		{ "s", "expected a number followed by a unit such as 1.5s, 100ms or 1h" },
		{ "1s2", "missing unit (use e.g. 1.5s, 100ms or 1h)" },
		{ "99999999999999h", "duration too large" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ns;
		const char *err = mesh__parse_duration(bad[i].s, &ns);
		ck_assert_msg(err && !strcmp(err, bad[i].err), "%s: got %s", bad[i].s,
		              err ? err : "(valid)");
	}
}
END_TEST

START_TEST(hosts)
{
	ck_assert_ptr_null(mesh__check_host("reviews", false));
	ck_assert_ptr_null(mesh__check_host("reviews.default.svc.cluster.local", false));
	ck_assert_ptr_null(mesh__check_host("*.googleapis.com", true));
	ck_assert_ptr_null(mesh__check_host("*", true));
	ck_assert_str_eq(mesh__check_host("*", false), "wildcard hosts are not allowed here");
	ck_assert_str_eq(mesh__check_host("*foo.com", true),
	                 "a wildcard must be the whole first label, as in *.example.com");
	ck_assert_str_eq(mesh__check_host("foo.*.com", true),
	                 "a wildcard is only allowed as the first label");
	ck_assert_str_eq(mesh__check_host("a..b", true),
	                 "empty label (two dots in a row, or a leading or trailing dot)");
	ck_assert_str_eq(mesh__check_host("-a.b", true), "a label must not start or end with '-'");
	ck_assert_str_eq(mesh__check_host("a_b.c", true),
	                 "only letters, digits, '-' and '.' are allowed");
	char longlabel[80];
	memset(longlabel, 'a', 70);
	longlabel[70] = '\0';
	ck_assert_str_eq(mesh__check_host(longlabel, true), "a label is longer than 63 characters");
}
END_TEST

START_TEST(labels)
{
	ck_assert_ptr_null(mesh__check_label_key("app"));
	ck_assert_ptr_null(mesh__check_label_key("app.kubernetes.io/name"));
	ck_assert_ptr_null(mesh__check_label_value(""));
	ck_assert_ptr_null(mesh__check_label_value("v1.2_beta-3"));
	ck_assert_str_eq(mesh__check_label_key("-app"),
	                 "must start and end with a letter or digit");
	ck_assert_str_eq(mesh__check_label_key("Foo_/x"),
	                 "prefix must be a DNS subdomain (lower case letters, digits, '-', '.')");
	ck_assert_str_eq(mesh__check_label_value("a b"),
	                 "only letters, digits, '-', '_' and '.' are allowed");
}
END_TEST

START_TEST(strerror_and_version)
{
	ck_assert_str_eq(mesh_strerror(0), "success");
	ck_assert_str_eq(mesh_strerror(MESH_ECONFIG), "invalid configuration");
	ck_assert_str_eq(mesh_strerror(-12345), "unknown error");
	ck_assert_str_eq(mesh_version(), MESH_VERSION_STRING);
}
END_TEST

static void regex_case(const char *re, unsigned col, const char *msg)
{
	char yaml[512];
	snprintf(yaml, sizeof(yaml),
	         "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\n"
	         "spec:\n  hosts: [r]\n  http:\n  - match: [{uri: {regex: '%s'}}]\n"
	         "    route: [{destination: {host: r}}]\n",
	         re);
	if (msg)
		tu_assert_one_error(yaml, 7, col, "spec.http[0].match[0].uri.regex", msg);
	else
		tu_assert_valid(yaml);
}

/* RE2 is what Istio and Envoy accept: PCRE2-only syntax is refused. */
START_TEST(regex_dialect)
{
	regex_case("^(?!/admin).*", 27,
	           "invalid regex \"^(?!/admin).*\": negative lookahead (?! is not supported "
	           "(Istio and Envoy use RE2 syntax) at offset 1");
	regex_case("(a)\\1", 27,
	           "invalid regex \"(a)\\1\": backreference is not supported (Istio and Envoy "
	           "use RE2 syntax) at offset 3");
	regex_case("a++", 27,
	           "invalid regex \"a++\": possessive quantifier is not supported (Istio and "
	           "Envoy use RE2 syntax) at offset 2");
	regex_case("/api/(v1|v2)/.*?", 0, NULL);
	regex_case("[(?!]x\\.y", 0, NULL);
	regex_case("^(.*?;)?(user=jason)(;.*)?$", 0, NULL);
	regex_case(
		"/caf\xc3\xa9/(menu", 27,
		"invalid regex \"/caf\xc3\xa9/(menu\": missing closing parenthesis at offset 11");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, diag_format_and_json);
	tcase_add_test(tc, diag_is_bounded);
	tcase_add_test(tc, strbuf_basics);
	tcase_add_test(tc, edit_distance);
	tcase_add_test(tc, durations);
	tcase_add_test(tc, hosts);
	tcase_add_test(tc, labels);
	tcase_add_test(tc, strerror_and_version);
	tcase_add_test(tc, regex_dialect);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
