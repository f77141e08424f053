// Node's http server for `cargo xtask bench http`: the same hello-world
// response as Eventide's `http_hello` and the raw mio responder.
// `node http.js` prints `listening on http://ADDR`.
const http = require('http');
const server = http.createServer((req, res) => {
  res.setHeader('Content-Type', 'text/plain');
  res.end('hello world\n');
});
// Idle connections must outlive the idle-memory measurement.
server.keepAliveTimeout = 120000;
server.headersTimeout = 121000;
server.listen(0, '127.0.0.1', () => {
  console.log('listening on http://127.0.0.1:' + server.address().port);
});
