// The module `slate build` bundles in place of `app.js`: the app's own
// exports, and the `season` export of contract 0.1.2, answered from the
// declaration of the app's `processor` (`seasonOf`) unless the app exports
// a `season` of its own. An app never imports it.
import * as app from './app.js';
import { seasonOf } from 'slate-sdk';

export * from './app.js';
export const season = app.season ?? seasonOf(app.processor);
