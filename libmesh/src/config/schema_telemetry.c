/*
 * schema_telemetry.c - spec schema of telemetry.istio.io Telemetry
 * (v1alpha1, v1): tracing, metrics and access logging overrides. The checks
 * follow Istio's ValidateTelemetry.
 */
#include <stdio.h>
#include <string.h>

#include "schema.h"

static const char *str_of(const struct mesh__node *n)
{
	return (n && n->type == MESH_NODE_SCALAR && n->scalar == MESH_SCALAR_STRING) ? n->u.str
	                                                                             : NULL;
}

/* Reports @key when it is set to "" (MESH_F_REQUIRED only checks presence). */
static void check_nonempty(struct mesh__vctx *v, const struct mesh__node *obj, const char *key)
{
	const struct mesh__node *n = mesh__node_field(obj, key);
	const char *s = str_of(n);
	char rel[32];
	if (s && !*s) {
		snprintf(rel, sizeof(rel), ".%s", key);
		mesh__v_error(v, n, rel, "%s must not be empty", key);
	}
}

/* ---- shared: selector, target references, providers ---- */

static const struct mesh__field provider_ref_fields[] = {
	{ .name = "name", .type = MESH_FT_STRING, .flags = MESH_F_REQUIRED },
};

static void provider_ref_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	check_nonempty(v, obj, "name");
}

static const struct mesh__schema provider_ref = { "ProviderRef", MESH_FIELDS(provider_ref_fields),
	                                          provider_ref_check, 0 };

static const char *const workload_modes[] = { "CLIENT_AND_SERVER", "CLIENT", "SERVER", NULL };

/* TracingSelector and AccessLogging.LogSelector have the same shape. */
static const struct mesh__field mode_selector_fields[] = {
	{ .name = "mode", .type = MESH_FT_ENUM, .sub = workload_modes },
};

static const struct mesh__schema tracing_selector = { "TracingSelector",
	                                              MESH_FIELDS(mode_selector_fields), NULL, 0 };

static const struct mesh__schema log_selector = { "LogSelector", MESH_FIELDS(mode_selector_fields),
	                                          NULL, 0 };

/* ---- tracing ---- */

static const struct mesh__field literal_fields[] = {
	{ .name = "value", .type = MESH_FT_STRING, .flags = MESH_F_REQUIRED },
};

static void literal_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	check_nonempty(v, obj, "value");
}

static const struct mesh__schema tag_literal = { "Literal", MESH_FIELDS(literal_fields),
	                                         literal_check, 0 };

/* Environment and RequestHeader: a name and an optional default. */
static const struct mesh__field named_source_fields[] = {
	{ .name = "name", .type = MESH_FT_STRING, .flags = MESH_F_REQUIRED },
	{ .name = "defaultValue", .type = MESH_FT_STRING },
};

static void named_source_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	check_nonempty(v, obj, "name");
}

static const struct mesh__schema tag_environment = { "Environment",
	                                             MESH_FIELDS(named_source_fields),
	                                             named_source_check, 0 };

static const struct mesh__schema tag_header = { "RequestHeader", MESH_FIELDS(named_source_fields),
	                                        named_source_check, 0 };

static const struct mesh__field custom_tag_fields[] = {
	{ .name = "literal", .type = MESH_FT_OBJECT, .oneof = 1, .sub = &tag_literal },
	{ .name = "environment", .type = MESH_FT_OBJECT, .oneof = 1, .sub = &tag_environment },
	{ .name = "header", .type = MESH_FT_OBJECT, .oneof = 1, .sub = &tag_header },
};

static const struct mesh__schema custom_tag = { "CustomTag", MESH_FIELDS(custom_tag_fields), NULL,
	                                        0 };

static const struct mesh__field tracing_fields[] = {
	{ .name = "match", .type = MESH_FT_OBJECT, .sub = &tracing_selector },
	{ .name = "providers", .type = MESH_FT_OBJECT, .flags = MESH_F_LIST, .sub = &provider_ref },
	{ .name = "randomSamplingPercentage", .type = MESH_FT_PERCENT },
	{ .name = "disableSpanReporting", .type = MESH_FT_BOOL },
	{ .name = "customTags", .type = MESH_FT_MAP, .sub = &custom_tag },
	{ .name = "useRequestIdForTraceSampling", .type = MESH_FT_BOOL },
	{ .name = "enableIstioTags", .type = MESH_FT_BOOL },
};

static void tracing_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *p = mesh__node_field(obj, "providers"),
				*tags = mesh__node_field(obj, "customTags");

	if (p && p->type == MESH_NODE_SEQ && p->count > 1)
		mesh__v_warn(v, p, ".providers",
		             "only one tracing provider is supported; %zu are listed", p->count);
	for (size_t i = 0; tags && tags->type == MESH_NODE_MAP && i < tags->count; i++) {
		const struct mesh__node *k = tags->u.pairs[i].key, *val = tags->u.pairs[i].value;
		char rel[300];
		snprintf(rel, sizeof(rel), ".customTags.%s", k->u.str);
		if (!*k->u.str)
			mesh__v_error(v, k, rel, "tag name must not be empty");
		if (val->type == MESH_NODE_NULL)
			mesh__v_error(v, k, rel,
			              "tag \"%s\" needs a value: literal, environment or header",
			              k->u.str);
	}
}

static const struct mesh__schema tracing = { "Tracing", MESH_FIELDS(tracing_fields), tracing_check,
	                                     0 };

/* ---- metrics ---- */

static const char *const istio_metrics[] = {
	"ALL_METRICS",        "REQUEST_COUNT",          "REQUEST_DURATION",       "REQUEST_SIZE",
	"RESPONSE_SIZE",      "TCP_OPENED_CONNECTIONS", "TCP_CLOSED_CONNECTIONS", "TCP_SENT_BYTES",
	"TCP_RECEIVED_BYTES", "GRPC_REQUEST_MESSAGES",  "GRPC_RESPONSE_MESSAGES", NULL
};

static const struct mesh__field metric_selector_fields[] = {
	{ .name = "metric", .type = MESH_FT_ENUM, .oneof = 1, .sub = istio_metrics },
	{ .name = "customMetric", .type = MESH_FT_STRING, .oneof = 1 },
	{ .name = "mode", .type = MESH_FT_ENUM, .sub = workload_modes },
};

static void metric_selector_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	check_nonempty(v, obj, "customMetric");
}

static const struct mesh__schema metric_selector = { "MetricSelector",
	                                             MESH_FIELDS(metric_selector_fields),
	                                             metric_selector_check, 0 };

static const char *const tag_operations[] = { "UPSERT", "REMOVE", NULL };

static const struct mesh__field tag_override_fields[] = {
	{ .name = "operation", .type = MESH_FT_ENUM, .sub = tag_operations },
	{ .name = "value", .type = MESH_FT_STRING },
};

static void tag_override_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const char *op = str_of(mesh__node_field(obj, "operation"));
	const struct mesh__node *val = mesh__node_field(obj, "value");
	const char *s = str_of(val);

	if (!op || !strcmp(op, "UPSERT")) {
		if (!val || (s && !*s))
			mesh__v_error(v, val ? val : obj, val ? ".value" : NULL,
			              "value is required when operation is UPSERT (the default)");
	} else if (!strcmp(op, "REMOVE") && val && (!s || *s)) {
		mesh__v_error(v, val, ".value", "value must not be set when operation is REMOVE");
	}
}

static const struct mesh__schema tag_override = { "TagOverride", MESH_FIELDS(tag_override_fields),
	                                          tag_override_check, 0 };

static const struct mesh__field metrics_override_fields[] = {
	{ .name = "match", .type = MESH_FT_OBJECT, .sub = &metric_selector },
	{ .name = "disabled", .type = MESH_FT_BOOL },
	{ .name = "tagOverrides", .type = MESH_FT_MAP, .sub = &tag_override },
};

static void metrics_override_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *tags = mesh__node_field(obj, "tagOverrides");
	for (size_t i = 0; tags && tags->type == MESH_NODE_MAP && i < tags->count; i++) {
		const struct mesh__node *k = tags->u.pairs[i].key, *val = tags->u.pairs[i].value;
		char rel[300];
		snprintf(rel, sizeof(rel), ".tagOverrides.%s", k->u.str);
		if (!*k->u.str)
			mesh__v_error(v, k, rel, "tag name must not be empty");
		if (val->type == MESH_NODE_NULL)
			mesh__v_error(v, k, rel,
			              "tag override \"%s\" must not be null; use "
			              "{operation: REMOVE} to drop the tag",
			              k->u.str);
	}
}

static const struct mesh__schema metrics_override = { "MetricsOverrides",
	                                              MESH_FIELDS(metrics_override_fields),
	                                              metrics_override_check, 0 };

static const struct mesh__field metrics_fields[] = {
	{ .name = "providers", .type = MESH_FT_OBJECT, .flags = MESH_F_LIST, .sub = &provider_ref },
	{ .name = "overrides",
	  .type = MESH_FT_OBJECT,
	  .flags = MESH_F_LIST,
	  .sub = &metrics_override },
	{ .name = "reportingInterval", .type = MESH_FT_DURATION, .min = 1 },
};

static const struct mesh__schema metrics = { "Metrics", MESH_FIELDS(metrics_fields), NULL, 0 };

/* ---- access logging ---- */

static const struct mesh__field filter_fields[] = {
	{ .name = "expression", .type = MESH_FT_STRING },
};

static const struct mesh__schema log_filter = { "Filter", MESH_FIELDS(filter_fields), NULL, 0 };

static const struct mesh__field access_logging_fields[] = {
	{ .name = "match", .type = MESH_FT_OBJECT, .sub = &log_selector },
	{ .name = "providers", .type = MESH_FT_OBJECT, .flags = MESH_F_LIST, .sub = &provider_ref },
	{ .name = "disabled", .type = MESH_FT_BOOL },
	{ .name = "filter", .type = MESH_FT_OBJECT, .sub = &log_filter },
};

static const struct mesh__schema access_logging = { "AccessLogging",
	                                            MESH_FIELDS(access_logging_fields), NULL, 0 };

/* ---- Telemetry ---- */

static const struct mesh__field telemetry_fields[] = {
	{ .name = "selector",
	  .type = MESH_FT_OBJECT,
	  .oneof = 1,
	  .sub = &mesh__schema_policy_selector },
	{ .name = "targetRef",
	  .type = MESH_FT_OBJECT,
	  .oneof = 1,
	  .sub = &mesh__schema_target_ref },
	{ .name = "targetRefs",
	  .type = MESH_FT_OBJECT,
	  .flags = MESH_F_LIST,
	  .oneof = 1,
	  .sub = &mesh__schema_target_ref },
	{ .name = "tracing", .type = MESH_FT_OBJECT, .flags = MESH_F_LIST, .sub = &tracing },
	{ .name = "metrics", .type = MESH_FT_OBJECT, .flags = MESH_F_LIST, .sub = &metrics },
	{ .name = "accessLogging",
	  .type = MESH_FT_OBJECT,
	  .flags = MESH_F_LIST,
	  .sub = &access_logging },
};

static void telemetry_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *t = mesh__node_field(obj, "tracing");
	if (t && t->type == MESH_NODE_SEQ && t->count > 1)
		mesh__v_warn(v, t, ".tracing",
		             "only one tracing entry is supported; %zu are listed", t->count);
}

const struct mesh__schema mesh__schema_telemetry = { "Telemetry", MESH_FIELDS(telemetry_fields),
	                                             telemetry_check, 0 };
