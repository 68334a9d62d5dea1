import http2 from 'node:http2';

/** GET `path` of a bench backend (echo, capacity) over h2c: its JSON answer, e.g. the calls it counted. */
export function backendJson(port: number, path: string): Promise<unknown> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'GET', ':path': path });
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      session.close();
      try {
        resolve(JSON.parse(body));
      } catch (err) {
        reject(err as Error);
      }
    });
    req.on('error', (err) => {
      session.close();
      reject(err);
    });
    req.end();
  });
}
