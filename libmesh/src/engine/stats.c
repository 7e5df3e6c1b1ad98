/* stats.c - names of the proxy's counters and response flags. */
#include <stdio.h>
#include <string.h>

#include "engine_int.h"

const char *const mesh__counter_names[C_COUNT_] = {
	[C_DOWNSTREAM_CX_TOTAL] = "downstream_cx_total",
	[C_DOWNSTREAM_CX_ACTIVE] = "downstream_cx_active",
	[C_DOWNSTREAM_RQ_TOTAL] = "downstream_rq_total",
	[C_DOWNSTREAM_RQ_ACTIVE] = "downstream_rq_active",
	[C_RQ_1XX] = "downstream_rq_1xx",
	[C_RQ_2XX] = "downstream_rq_2xx",
	[C_RQ_3XX] = "downstream_rq_3xx",
	[C_RQ_4XX] = "downstream_rq_4xx",
	[C_RQ_5XX] = "downstream_rq_5xx",
	[C_UPSTREAM_CX_TOTAL] = "upstream_cx_total",
	[C_UPSTREAM_CX_ACTIVE] = "upstream_cx_active",
	[C_UPSTREAM_CX_CONNECT_FAIL] = "upstream_cx_connect_fail",
	[C_UPSTREAM_CX_CONNECT_TIMEOUT] = "upstream_cx_connect_timeout",
	[C_UPSTREAM_RQ_RETRY] = "upstream_rq_retry",
	[C_UPSTREAM_RQ_RETRY_OVERFLOW] = "upstream_rq_retry_overflow",
	[C_UPSTREAM_RQ_TIMEOUT] = "upstream_rq_timeout",
	[C_UPSTREAM_RQ_PENDING_OVERFLOW] = "upstream_rq_pending_overflow",
	[C_DOWNSTREAM_RQ_BAD] = "downstream_rq_bad",
	[C_DOWNSTREAM_RQ_IDLE_TIMEOUT] = "downstream_rq_idle_timeout",
	[C_DOWNSTREAM_CX_OVERFLOW] = "downstream_cx_overflow",
	[C_DOWNSTREAM_CX_HTTP2_TOTAL] = "downstream_cx_http2_total",
	[C_UPSTREAM_CX_HTTP2_TOTAL] = "upstream_cx_http2_total",
	[C_H2_RX_RESET] = "http2_rx_reset",
	[C_H2_TX_RESET] = "http2_tx_reset",
	[C_H2_REFUSED_STREAM] = "http2_refused_stream",
	[C_H2_HEADER_OVERFLOW] = "http2_header_overflow",
	[C_H2_RESET_FLOOD] = "http2_reset_flood",
	[C_H2_CONTROL_FLOOD] = "http2_control_flood",
	[C_H2_EMPTY_FRAMES_FLOOD] = "http2_empty_frames_flood",
	[C_SSL_HANDSHAKE] = "ssl_handshake",
	[C_SSL_SESSION_REUSED] = "ssl_session_reused",
	[C_SSL_FAIL_VERIFY] = "ssl_fail_verify",
	[C_SSL_CONNECTION_ERROR] = "ssl_connection_error",
	[C_SSL_PLAINTEXT_REFUSED] = "ssl_plaintext_refused",
	[C_UPSTREAM_SSL_HANDSHAKE] = "upstream_ssl_handshake",
	[C_UPSTREAM_SSL_REUSED] = "upstream_ssl_session_reused",
	[C_UPSTREAM_SSL_FAIL] = "upstream_ssl_fail",
	[C_NO_FILTER_CHAIN] = "no_filter_chain_match",
};

const char *const mesh__flag_names[MESH_FLAG_COUNT] = {
	"UF", "UH", "UO", "NR", "URX", "UT", "UC", "DC", "FI", "DI", "LR", "DPE", "UPE",
};

void mesh__flags_format(unsigned flags, char *buf, size_t size)
{
	size_t off = 0;
	buf[0] = '\0';
	for (int i = 0; i < MESH_FLAG_COUNT; i++)
		if (flags & (1u << i) && off < size)
			off += (size_t)snprintf(buf + off, size - off, "%s%s", off ? "," : "",
			                        mesh__flag_names[i]);
	if (!off)
		snprintf(buf, size, "-");
}
