/**
 * The thread that reads an LDAP source in full (full-read.ts starts it through
 * thread/host.ts): the session, the searches and the decoding of the server's answer run
 * here, while the reader's thread builds and stages the objects. Pages go out as they are
 * (entries are plain strings and arrays).
 */
import { workerData } from 'node:worker_threads';
import { serveBatches } from '../thread/port.js';
import { readLdapFullHere, type ReadWorkerData } from './full-read.js';

const { source, password } = workerData as ReadWorkerData;
await serveBatches(readLdapFullHere(source, password), (page) => ({ posted: page }));
