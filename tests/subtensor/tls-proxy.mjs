// A TLS terminator in front of a local node, for the wss:// tests: accepts TLS on a free
// loopback port with the given key and certificate, and forwards the bytes to
// 127.0.0.1:TARGET_PORT. Prints "tls proxy on PORT" once listening.
//   node tls-proxy.mjs KEY.pem CERT.pem TARGET_PORT [LISTEN_PORT]
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const [keyFile, certFile, target, listenPort] = process.argv.slice(2);
const server = tls.createServer({ key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile) }, (client) => {
  const upstream = net.connect(Number(target), '127.0.0.1');
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
});
server.on('tlsClientError', () => {});  // a client that refuses our certificate: its business
server.listen(Number(listenPort ?? 0), '127.0.0.1', () => console.log(`tls proxy on ${server.address().port}`));
