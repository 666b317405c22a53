/* HTTPS material for augurd's HTTP server: PEM files read and checked with
 * GnuTLS before the server starts. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include "common/error.h"
#include "node/http_tls.h"

/* Read all of @path into a malloc'd NUL-terminated buffer. */
static int file_read(const char *what,
                     const char *path,
                     char **out,
                     char *errmsg)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0;
    size_t cap = 4096;

    if (f == NULL) {
        snprintf(errmsg, NODE_HTTP_TLS_ERRMSG_SIZE, "%s %.300s: %s", what, path,
                 strerror(errno));
        return AUGUR_EINVAL;
    }
    for (;;) {
        char *p = realloc(buf, cap + 1);
        if (p == NULL) {
            free(buf);
            fclose(f);
            snprintf(errmsg, NODE_HTTP_TLS_ERRMSG_SIZE,
                     "%s %.300s: out of memory", what, path);
            return AUGUR_ENOMEM;
        }
        buf = p;
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap || cap >= NODE_HTTP_TLS_FILE_MAX) {
            break;
        }
        cap *= 2;
    }
    if (ferror(f) || len == cap) {
        int err = errno;
        bool big = len == cap;
        gnutls_memset(buf, 0, len);
        free(buf);
        fclose(f);
        if (big) {
            snprintf(errmsg, NODE_HTTP_TLS_ERRMSG_SIZE,
                     "%s %.300s: larger than %u bytes", what, path,
                     NODE_HTTP_TLS_FILE_MAX);
        } else {
            snprintf(errmsg, NODE_HTTP_TLS_ERRMSG_SIZE, "%s %.300s: %s", what,
                     path, strerror(err));
        }
        return AUGUR_EINVAL;
    }
    fclose(f);
    buf[len] = '\0';
    *out = buf;
    return 0;
}

/* The checks, on texts read: each part alone first, for a reason that
 * names the file, then the pair as libmicrohttpd will load it. */
static int tls_check(const struct node_http_tls *tls,
                     const char *cert_path,
                     const char *key_path,
                     char *errmsg)
{
    gnutls_datum_t cert = {(unsigned char *)tls->cert,
                           (unsigned)strlen(tls->cert)};
    gnutls_datum_t key = {(unsigned char *)tls->key,
                          (unsigned)strlen(tls->key)};
    gnutls_x509_crt_t crt;
    gnutls_x509_privkey_t pkey;
    gnutls_certificate_credentials_t cred;
    int rv;

    if (gnutls_x509_crt_init(&crt) != 0) {
        goto err_nomem;
    }
    rv = gnutls_x509_crt_import(crt, &cert, GNUTLS_X509_FMT_PEM);
    gnutls_x509_crt_deinit(crt);
    if (rv != 0) {
        snprintf(errmsg, NODE_HTTP_TLS_ERRMSG_SIZE,
                 "http-cert %.300s: not a PEM X.509 certificate: %s", cert_path,
                 gnutls_strerror(rv));
        return AUGUR_EINVAL;
    }
    if (gnutls_x509_privkey_init(&pkey) != 0) {
        goto err_nomem;
    }
    rv = gnutls_x509_privkey_import2(pkey, &key, GNUTLS_X509_FMT_PEM, NULL,
                                     GNUTLS_PKCS_PLAIN);
    gnutls_x509_privkey_deinit(pkey);
    if (rv != 0) {
        snprintf(errmsg, NODE_HTTP_TLS_ERRMSG_SIZE,
                 "http-key %.300s: not an unencrypted PEM private key: %s",
                 key_path, gnutls_strerror(rv));
        return AUGUR_EINVAL;
    }
    if (gnutls_certificate_allocate_credentials(&cred) != 0) {
        goto err_nomem;
    }
    rv = gnutls_certificate_set_x509_key_mem2(cred, &cert, &key,
                                              GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_certificate_free_credentials(cred);
    if (rv == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
        snprintf(errmsg, NODE_HTTP_TLS_ERRMSG_SIZE,
                 "http-key %.200s is not the key of http-cert %.200s", key_path,
                 cert_path);
        return AUGUR_EINVAL;
    }
    if (rv < 0) {
        snprintf(errmsg, NODE_HTTP_TLS_ERRMSG_SIZE,
                 "http-cert %.200s with http-key %.200s: %s", cert_path,
                 key_path, gnutls_strerror(rv));
        return AUGUR_EINVAL;
    }
    return 0;

err_nomem:
    snprintf(errmsg, NODE_HTTP_TLS_ERRMSG_SIZE, "https: out of memory");
    return AUGUR_ENOMEM;
}

int node_http_tls_load(struct node_http_tls *tls,
                       const char *cert_path,
                       const char *key_path,
                       char *errmsg)
{
    int rv;

    memset(tls, 0, sizeof *tls);
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(errmsg, NODE_HTTP_TLS_ERRMSG_SIZE,
                 "https: this libmicrohttpd was built without TLS");
        return AUGUR_EINVAL;
    }
    rv = file_read("http-cert", cert_path, &tls->cert, errmsg);
    if (rv != 0) {
        return rv;
    }
    rv = file_read("http-key", key_path, &tls->key, errmsg);
    if (rv != 0) {
        node_http_tls_close(tls);
        return rv;
    }
    rv = tls_check(tls, cert_path, key_path, errmsg);
    if (rv != 0) {
        node_http_tls_close(tls);
    }
    return rv;
}

void node_http_tls_close(struct node_http_tls *tls)
{
    if (tls->key != NULL) {
        gnutls_memset(tls->key, 0, strlen(tls->key));
    }
    free(tls->key);
    free(tls->cert);
    tls->key = NULL;
    tls->cert = NULL;
}
