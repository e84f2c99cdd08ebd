// Loaded with `node --import ./tests/fake-host.mjs --test tests/`: resolves
// the WIT import `slate:processor/host@0.1.2`, which only componentize-js
// provides, to `host-double.mjs`, so that the SDK runs under Node.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
      export async function resolve(specifier, context, next) {
        if (specifier === 'slate:processor/host@0.1.2') {
          return { url: ${JSON.stringify(new URL('./host-double.mjs', import.meta.url).href)}, shortCircuit: true };
        }
        return next(specifier, context);
      }
    `),
);
