// echo.mjs: a gRPC echo upstream (the npm @grpc/grpc-js server) for the gRPC proxy tests.
//
//   node echo.mjs [--port P]        prints "listening P" once it accepts h2c connections
//
// The service is echo.proto's Echo:
//   Unary         answers {text, blob}; fail_code ends the call with that status,
//                 fail_message and the trailer metadata "x-detail: why" and "x-bin-bin" (binary)
//   ServerStream  answers `count` messages {text: "text#i", index: i}, then OK with the trailer
//                 "x-count: count"
//   ClientStream  answers once the client ends: {text: the texts joined with ",", blob: all blobs}
//   Bidi          answers each message as it arrives (so a client can wait on each answer)
// delay_ms delays the answer; a call the client cancels (a deadline) is printed on stdout as
// "cancelled N", N counting them.
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../node/package.json'));
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

let port = 0;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) if (args[i] === '--port') port = Number(args[++i]);

const def = loader.loadSync(path.join(here, 'echo.proto'), { keepCase: true, longs: Number, defaults: true });
const Echo = grpc.loadPackageDefinition(def).portico.test.Echo;
let cancelled = 0;


function failure(req) {
    const md = new grpc.Metadata();
    md.set('x-detail', 'why');
    md.set('x-bin-bin', Buffer.from([0, 1, 2, 255]));
    return { code: req.fail_code, details: req.fail_message, metadata: md };
}

function later(ms, fn) {
    if (ms > 0) setTimeout(fn, ms);
    else fn();
}

const impl = {
    Unary(call, cb) {
        const req = call.request;
        call.on('cancelled', () => console.log(`cancelled ${++cancelled}`));
        later(req.delay_ms, () => {
            if (call.cancelled) return;
            if (req.fail_code) return cb(failure(req));
            cb(null, { text: req.text, blob: req.blob });
        });
    },
    ServerStream(call) {
        const req = call.request;
        let i = 0;
        const next = () => {
            if (call.cancelled) return;
            if (i >= req.count) {
                const md = new grpc.Metadata();
                md.set('x-count', String(req.count));
                call.end(md);
                return;
            }
            call.write({ text: `${req.text}#${i}`, index: i });
            i++;
            later(req.delay_ms, next);
        };
        next();
    },
    ClientStream(call, cb) {
        const texts = [], blobs = [];
        call.on('data', (m) => { texts.push(m.text); blobs.push(m.blob); });
        call.on('end', () => cb(null, { text: texts.join(','), blob: Buffer.concat(blobs) }));
    },
    Bidi(call) {
        let i = 0;
        call.on('data', (m) => {
            if (m.fail_code) {
                call.emit('error', failure(m));
                return;
            }
            call.write({ text: m.text, blob: m.blob, index: i++ });
        });
        call.on('end', () => call.end());
    },
};

const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20 });
server.addService(Echo.service, impl);
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => {
    if (err) {
        console.error(err.message);
        process.exit(1);
    }
    console.log(`listening ${p}`);
});
