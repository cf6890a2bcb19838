// `serveDeno` from the installed package: the API and, prebuilt in the package, the page at /.
import { serveDeno } from 'clip-edge/deno';

const running = await serveDeno({ port: 0 });
console.error(`listening on ${running.url}`);
