// The host's imports (`slate:processor/host`, see `wit/host.wit`), in one
// place: the only module of the SDK that names the WIT package, so that the
// SDK's unit tests can put a fake host in its stead (`tests/fake-host.mjs`).
export { log, readRows, readColumns, readColumnBatch, readCodedColumnBatch } from 'slate:processor/host@0.1.2';
