// {{name}}: greets the signed-in citizen and counts their visits.
//
// | route | who | what |
// | --- | --- | --- |
// | `GET /` | anyone | the page |
// | `GET /api/hello` | signed in | `{"message", "visits"}`: a greeting, the visit counted |
import { Router, Response, identity, storage, log } from '@islet/sdk';

const PAGE = `<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{name}}</title></head>
<body><main><h1>{{name}}</h1>
<p>Edit <code>src/index.js</code> and save: <code>islet dev</code> rebuilds and reloads this service.</p></main></body>
</html>
`;

export const router = new Router()
  .get('/', () => Response.html(PAGE))
  .get('/api/hello', () => {
    const { subject } = identity.requireCaller(); // 401 when anonymous
    const visits = storage.increment(`visits/${subject}`, 1);
    log.info(`visit ${visits} of a citizen`);
    return { message: `Hello, ${subject}!`, visits };
  });
