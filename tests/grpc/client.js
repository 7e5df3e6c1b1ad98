// client.js - the gRPC test client (@grpc/grpc-js, plaintext HTTP/2).
//
//   node client.js HOST:PORT AUTHORITY say MESSAGE [FAIL_CODE [DELAY_MS [DEADLINE_MS]]]
//   node client.js HOST:PORT AUTHORITY count N [INTERVAL_MS]
//   node client.js HOST:PORT AUTHORITY many N DELAY_MS
//
// Connects to HOST:PORT (meshproxy's listener) with AUTHORITY as
// :authority (the proxy routes by it). Prints one JSON line: the reply (or
// the streamed replies), or the error's gRPC code and details; the
// trailing metadata's x-served-by when there is one. Exits 0 whenever an
// answer (even an error status) came back.
'use strict';
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [target, authority, cmd, ...args] = process.argv.slice(2);
const def = loader.loadSync(path.join(__dirname, 'echo.proto'), { keepCase: true });
const proto = grpc.loadPackageDefinition(def).meshtest;
const client = new proto.Echo(target, grpc.credentials.createInsecure(),
                              { 'grpc.default_authority': authority });

function done(obj) {
	console.log(JSON.stringify(obj));
	client.close();
}

function servedBy(md) {
	const v = md && md.get('x-served-by');
	return v && v.length ? String(v[0]) : null;
}

if (cmd === 'say') {
	const [message, failCode, delayMs, deadlineMs] = args;
	const opts = {};
	if (deadlineMs)
		opts.deadline = new Date(Date.now() + Number(deadlineMs));
	// the result is printed once both the callback and the status came
	let result = null, status = null;
	const finish = () => {
		if (result && status) {
			result.served_by = servedBy(status.metadata);
			done(result);
		}
	};
	const call = client.Say({ message, fail_code: Number(failCode || 0),
	                          delay_ms: Number(delayMs || 0) }, new grpc.Metadata(), opts,
	                        (err, reply) => {
		result = err ? { code: err.code, details: err.details }
		             : { code: 0, message: reply.message };
		finish();
	});
	call.on('status', (st) => {
		status = st;
		finish();
	});
} else if (cmd === 'count') {
	const [n, every] = args;
	const got = [];
	const call = client.Count({ count: Number(n), interval_ms: Number(every || 0) });
	let served = null;
	call.on('data', (r) => got.push(r.seq));
	call.on('status', (st) => { served = servedBy(st.metadata); });
	call.on('error', (err) => done({ code: err.code, details: err.details, seqs: got }));
	call.on('end', () => setImmediate(() => done({ code: 0, seqs: got, served_by: served })));
} else if (cmd === 'many') {
	// N calls at once, each answered after DELAY_MS: how many succeeded,
	// and how long all took
	const [n, delayMs] = args.map(Number);
	const t0 = Date.now();
	const codes = {};
	let left = n;
	for (let i = 0; i < n; i++) {
		client.Say({ message: 'm' + i, delay_ms: delayMs }, (err) => {
			const c = err ? err.code : 0;
			codes[c] = (codes[c] || 0) + 1;
			if (--left === 0)
				done({ codes, ms: Date.now() - t0 });
		});
	}
} else {
	console.error('usage: client.js HOST:PORT AUTHORITY say|count|many ...');
	process.exit(2);
}
