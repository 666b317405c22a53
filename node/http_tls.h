/* The certificate and key augurd's HTTP server speaks HTTPS with
 * (--http-cert, --http-key): read from their PEM files and checked with
 * GnuTLS (libmicrohttpd's TLS library) before anything starts, so that an
 * unreadable, malformed or mismatched pair is a configuration error with a
 * reason, not a server that fails to listen. */
#ifndef AUGUR_NODE_HTTP_TLS_H
#define AUGUR_NODE_HTTP_TLS_H

#include <stddef.h>

#define NODE_HTTP_TLS_ERRMSG_SIZE 512
/* A PEM file larger than this is refused (a certificate chain is a few
 * KiB). */
#define NODE_HTTP_TLS_FILE_MAX (1u << 20)

/* Both PEM texts, NUL-terminated, malloc'd; NULL when not loaded. */
struct node_http_tls
{
    char *cert;
    char *key;
};

/* Read the certificate chain at @cert_path and the private key at
 * @key_path (PEM; the key unencrypted) into @tls, and check that the
 * certificate parses, the key parses and is the certificate's, and that
 * libmicrohttpd was built with TLS.  Returns 0, or AUGUR_EINVAL (a file
 * that cannot be read, is too large, is not PEM of its kind, or a key
 * that is not the certificate's) or AUGUR_ENOMEM with one line in
 * @errmsg (NODE_HTTP_TLS_ERRMSG_SIZE bytes) naming the file; on error
 * @tls holds nothing.  The caller frees @tls with node_http_tls_close. */
int node_http_tls_load(struct node_http_tls *tls,
                       const char *cert_path,
                       const char *key_path,
                       char *errmsg) __attribute__((warn_unused_result));

/* Wipe the key's text and free both.  A zeroed @tls is a no-op. */
void node_http_tls_close(struct node_http_tls *tls);

#endif
