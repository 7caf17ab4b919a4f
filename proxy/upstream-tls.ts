/**
 * TLS towards an upstream database, checked the way `psql` checks it with
 * `sslmode=verify-full`: the chain must lead to a trusted CA and the
 * certificate must name the host. An unchecked link would hand the service
 * account's password (MySQL's caching_sha2 full authentication sends it in
 * clear inside TLS) to anyone able to answer in the database's place.
 */
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { X509Certificate } from 'node:crypto';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { SqlgateError } from '../governance/errors.js';
import { upstreamTls, type UpstreamTarget, type UpstreamTls } from '../governance/gate.js';
import type { Instance } from '../rules/policy-schema.js';

/** CA files by path, re-read when the file changes (a rotated CA takes effect on the next connection). */
const caFiles = new Map<string, { readonly mtimeMs: number; readonly size: number; readonly pem: string }>();

/**
 * The PEM text of a CA file, checked to hold at least one certificate.
 * Throws UPSTREAM_UNAVAILABLE naming the file and what is wrong with it.
 */
export function readCaFile(path: string): string {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw caError(path, `cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const known = caFiles.get(path);
  if (known && known.mtimeMs === st.mtimeMs && known.size === st.size) return known.pem;
  let pem: string;
  try {
    pem = readFileSync(path, 'latin1');
  } catch (e) {
    throw caError(path, `cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw caError(path, 'it holds no PEM certificate');
  for (const b of blocks) {
    try {
      new X509Certificate(b);
    } catch (e) {
      throw caError(path, `a certificate in it cannot be read (${(e as Error).message})`);
    }
  }
  caFiles.set(path, { mtimeMs: st.mtimeMs, size: st.size, pem });
  return pem;
}

function caError(path: string, why: string): SqlgateError {
  return new SqlgateError('UPSTREAM_UNAVAILABLE', `sqlgate: the upstream CA file ${path} is unusable: ${why}`);
}

/** Options for `tls.connect` over an open socket to `target`, per its verify mode. */
export function upstreamTlsOptions(target: UpstreamTarget, tls: UpstreamTls, socket: ConnectionOptions['socket']): ConnectionOptions {
  const name = tls.servername ?? target.host;
  return {
    socket,
    // `host` is what the certificate is checked against when no servername is set.
    host: name,
    // SNI carries a name, never an address (RFC 6066 §3).
    servername: isIP(name) ? undefined : name,
    ca: tls.ca === undefined ? undefined : readCaFile(tls.ca),
    rejectUnauthorized: tls.verify !== 'none',
    ...(tls.verify === 'ca' ? { checkServerIdentity: () => undefined } : {}),
  };
}

/**
 * Resolves once the handshake is done and the certificate accepted; a
 * rejected certificate becomes UPSTREAM_UNAVAILABLE saying why, before any
 * password has been sent.
 */
export function secured(target: UpstreamTarget, socket: TLSSocket): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    socket.once('secureConnect', () => { socket.off('error', onError); resolve(socket); });
    const onError = (err: NodeJS.ErrnoException) => {
      socket.destroy();
      const cert = /CERT|SELF_SIGNED|UNABLE_TO|HOSTNAME|ALTNAME/.test(err.code ?? '');
      reject(new SqlgateError('UPSTREAM_UNAVAILABLE', cert
        ? `sqlgate: upstream ${target.instance}: its TLS certificate was not accepted (${err.message}); set the instance's tls.ca or tls.servername`
        : `sqlgate: upstream ${target.instance}: TLS handshake failed (${err.message})`, { cause: err }));
    };
    socket.once('error', onError);
  });
}

/**
 * What is wrong with the instances' TLS settings, for the policy holder
 * (at start and before a reload takes effect): every CA file must be usable.
 * An instance that verifies nothing is reported to `log`, not refused.
 */
export function checkUpstreamTls(instances: Readonly<Record<string, Instance>>, log: { warn(obj: object, msg: string): void }): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  for (const [name, inst] of Object.entries(instances)) {
    const tls = upstreamTls(inst.tls);
    if (tls?.ca !== undefined) {
      try {
        readCaFile(tls.ca);
      } catch (e) {
        problems.push({ path: `instances.${name}.tls.ca`, message: (e as Error).message.replace(/^sqlgate: /, '') });
      }
    }
    if (tls?.verify === 'none') {
      log.warn({ instance: name }, `instance ${name}: tls.verify is none, so the upstream's certificate is not checked and the service password goes to whoever answers at ${inst.host}:${inst.port}`);
    }
  }
  return problems;
}
