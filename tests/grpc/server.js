// server.js - the gRPC test server (@grpc/grpc-js, plaintext HTTP/2).
//
//   node server.js PORT_FILE [MAX_CONCURRENT_STREAMS]
//
// Listens on 127.0.0.1, a free port written to PORT_FILE once bound; with
// MAX_CONCURRENT_STREAMS, its HTTP/2 SETTINGS allow only that many streams
// at once per connection.
// Serves meshtest.Echo (echo.proto); trailing metadata x-served-by: node.
'use strict';
const path = require('path');
const fs = require('fs');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const def = loader.loadSync(path.join(__dirname, 'echo.proto'), { keepCase: true });
const proto = grpc.loadPackageDefinition(def).meshtest;

function trailers() {
	const md = new grpc.Metadata();
	md.set('x-served-by', 'node');
	return md;
}

function say(call, callback) {
	const req = call.request;
	const answer = () => {
		if (req.fail_code) {
			callback({ code: req.fail_code, details: 'failed as asked: ' + req.message,
			           metadata: trailers() });
			return;
		}
		callback(null, { message: 'echo: ' + req.message, seq: 0 }, trailers());
	};
	if (req.delay_ms > 0)
		setTimeout(answer, req.delay_ms);
	else
		answer();
}

function count(call) {
	const n = call.request.count;
	const every = call.request.interval_ms || 0;
	let i = 0;
	const next = () => {
		if (call.cancelled)
			return;
		if (i >= n) {
			call.end(trailers());
			return;
		}
		call.write({ message: 'item ' + i, seq: i });
		i++;
		setTimeout(next, every);
	};
	next();
}

const maxStreams = Number(process.argv[3] || 0);
const server = new grpc.Server(maxStreams ? { 'grpc.max_concurrent_streams': maxStreams } : {});
server.addService(proto.Echo.service, { Say: say, Count: count });
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
	if (err) {
		console.error('bind failed:', err.message);
		process.exit(1);
	}
	if (server.start)
		server.start(); // older grpc-js needs it; newer ones start on bind
	fs.writeFileSync(process.argv[2] + '.tmp', String(port) + '\n');
	fs.renameSync(process.argv[2] + '.tmp', process.argv[2]);
});
process.on('SIGTERM', () => server.forceShutdown() || process.exit(0));
