/*
 * Per-API-key token buckets in shared memory, shared by all workers:
 *
 *   hookd_rate_limit_zone name=ingest:10m rate=100/s burst=200;
 *   hookd_rate_limit ingest;
 *
 * A bucket holds up to burst tokens (at least one) and refills at rate per
 * second; a request takes one token or is answered 429 with the seconds
 * until the next token. Buckets live in an rbtree keyed by the key's hash
 * with an LRU queue, as in ngx_http_limit_req_module: idle full buckets
 * are dropped first, the least recently used when memory runs out.
 */

#include "ngx_http_hookd_module.h"


typedef struct {
    ngx_rbtree_node_t           node;
    ngx_queue_t                 queue;
    ngx_msec_t                  last;
    ngx_uint_t                  tokens;      /* thousandths of a token */
    u_char                      hash[HOOKD_KEY_HASH_LEN];
} ngx_http_hookd_bucket_t;


typedef struct {
    ngx_rbtree_t                rbtree;
    ngx_rbtree_node_t           sentinel;
    ngx_queue_t                 queue;
} ngx_http_hookd_limit_shctx_t;


struct ngx_http_hookd_limit_s {
    ngx_http_hookd_limit_shctx_t  *sh;
    ngx_slab_pool_t               *shpool;
    ngx_uint_t                     rate;     /* tokens per second */
    ngx_uint_t                     burst;    /* bucket size in tokens */
};


static ngx_shm_zone_t *ngx_http_hookd_limit_add(ngx_conf_t *cf,
    ngx_str_t *name, size_t size, ngx_uint_t rate, ngx_uint_t burst);
static ngx_int_t ngx_http_hookd_limit_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_hookd_limit_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_hookd_bucket_t *ngx_http_hookd_limit_lookup(
    ngx_http_hookd_limit_t *ctx, ngx_rbtree_key_t key, const u_char *hash);
static void ngx_http_hookd_limit_expire(ngx_http_hookd_limit_t *ctx,
    ngx_uint_t force);
static void ngx_http_hookd_limit_refill(ngx_http_hookd_limit_t *ctx,
    ngx_http_hookd_bucket_t *b);
static ngx_uint_t ngx_http_hookd_limit_wait(ngx_http_hookd_limit_t *ctx,
    ngx_http_hookd_bucket_t *b);


/* whole seconds until an empty bucket has a token again, at least 1 */
static ngx_uint_t
ngx_http_hookd_limit_wait(ngx_http_hookd_limit_t *ctx,
    ngx_http_hookd_bucket_t *b)
{
    ngx_uint_t  seconds;

    seconds = ((1000 - b->tokens) / ctx->rate + 999) / 1000;

    return seconds ? seconds : 1;
}


char *
ngx_http_hookd_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    u_char      *p;
    ssize_t      size;
    ngx_str_t   *value, name, s;
    ngx_int_t    rate, burst;
    ngx_uint_t   i;

    value = cf->args->elts;

    size = 0;
    rate = NGX_ERROR;
    burst = NGX_ERROR;
    name.len = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "name=", 5) == 0) {

            name.data = value[i].data + 5;
            p = (u_char *) ngx_strchr(name.data, ':');

            if (p == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\": "
                                   "expected name=<zone>:<size>", &value[i]);
                return NGX_CONF_ERROR;
            }

            name.len = p - name.data;

            s.data = p + 1;
            s.len = value[i].data + value[i].len - s.data;

            size = ngx_parse_size(&s);

            if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "zone \"%V\" is too small or invalid: "
                                   "at least %uz bytes", &value[i],
                                   8 * ngx_pagesize);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "rate=", 5) == 0
            && value[i].len > 7
            && ngx_strncmp(value[i].data + value[i].len - 2, "/s", 2) == 0)
        {
            rate = ngx_atoi(value[i].data + 5, value[i].len - 7);
            if (rate <= 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid rate \"%V\": expected "
                                   "rate=<whole number>/s", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "burst=", 6) == 0) {
            burst = ngx_atoi(value[i].data + 6, value[i].len - 6);
            if (burst <= 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid burst \"%V\": expected a whole "
                                   "number of at least 1", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\": expected name=, "
                           "rate= and burst=", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (name.len == 0 || rate == NGX_ERROR || burst == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs name=<zone>:<size> rate=<r>/s "
                           "burst=<n>", &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_hookd_limit_add(cf, &name, size, rate, burst) == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_shm_zone_t *
ngx_http_hookd_limit_add(ngx_conf_t *cf, ngx_str_t *name, size_t size,
    ngx_uint_t rate, ngx_uint_t burst)
{
    ngx_shm_zone_t          *shm_zone;
    ngx_http_hookd_limit_t  *ctx;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_hookd_limit_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->rate = rate;
    ctx->burst = burst;

    shm_zone = ngx_shared_memory_add(cf, name, size, &ngx_http_hookd_module);
    if (shm_zone == NULL) {
        return NULL;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "hookd_rate_limit_zone \"%V\" is already defined",
                           name);
        return NULL;
    }

    shm_zone->init = ngx_http_hookd_limit_init_zone;
    shm_zone->data = ctx;

    return shm_zone;
}


/*
 * The zone of admin locations that name none: "hookd_admin", 1m, 100 requests
 * a second per key, bursts of 500 (docs/directives.md); declared once, by
 * the first such location, unless the configuration declares its own.
 */
ngx_shm_zone_t *
ngx_http_hookd_limit_admin_zone(ngx_conf_t *cf)
{
    ngx_str_t        name = ngx_string("hookd_admin");
    ngx_shm_zone_t  *shm_zone;

    shm_zone = ngx_shared_memory_add(cf, &name, 0, &ngx_http_hookd_module);
    if (shm_zone == NULL || shm_zone->data) {
        return shm_zone;
    }

    return ngx_http_hookd_limit_add(cf, &name, 1024 * 1024, 100, 500);
}


/* hookd_rate_limit and hookd_auth_failure_limit: a zone's name, or off */
char *
ngx_http_hookd_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t        *value;
    ngx_shm_zone_t  **zone;

    zone = (ngx_shm_zone_t **) ((char *) conf + cmd->offset);

    if (*zone != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        *zone = NULL;
        return NGX_CONF_OK;
    }

    /* size 0: the zone may be declared further down the file */
    *zone = ngx_shared_memory_add(cf, &value[1], 0, &ngx_http_hookd_module);
    if (*zone == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_hookd_limit_peek(ngx_shm_zone_t *zone, const u_char *key_hash,
    ngx_uint_t *retry_after)
{
    ngx_int_t                 rc;
    ngx_rbtree_key_t          key;
    ngx_http_hookd_limit_t   *ctx = zone->data;
    ngx_http_hookd_bucket_t  *b;

    ngx_memcpy(&key, key_hash, sizeof(ngx_rbtree_key_t));

    ngx_shmtx_lock(&ctx->shpool->mutex);

    b = ngx_http_hookd_limit_lookup(ctx, key, key_hash);
    rc = NGX_OK;

    if (b != NULL) {
        ngx_http_hookd_limit_refill(ctx, b);

        if (b->tokens < 1000) {
            *retry_after = ngx_http_hookd_limit_wait(ctx, b);
            rc = NGX_BUSY;
        }
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}


static ngx_int_t
ngx_http_hookd_limit_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_hookd_limit_t  *octx = data;

    size_t                   len;
    ngx_http_hookd_limit_t  *ctx;

    ctx = shm_zone->data;

    if (octx) {
        /* a reload keeps the buckets */
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        ctx->sh = ctx->shpool->data;
        return NGX_OK;
    }

    ctx->sh = ngx_slab_alloc(ctx->shpool,
                             sizeof(ngx_http_hookd_limit_shctx_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->shpool->data = ctx->sh;

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_http_hookd_limit_rbtree_insert);
    ngx_queue_init(&ctx->sh->queue);

    len = sizeof(" in hookd_rate_limit_zone \"\"") + shm_zone->shm.name.len;

    ctx->shpool->log_ctx = ngx_slab_alloc(ctx->shpool, len);
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->shpool->log_ctx, " in hookd_rate_limit_zone \"%V\"%Z",
                &shm_zone->shm.name);

    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}


static void
ngx_http_hookd_limit_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t        **p;
    ngx_http_hookd_bucket_t   *b, *bt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            b = (ngx_http_hookd_bucket_t *) node;
            bt = (ngx_http_hookd_bucket_t *) temp;

            p = (ngx_memcmp(b->hash, bt->hash, HOOKD_KEY_HASH_LEN) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_http_hookd_bucket_t *
ngx_http_hookd_limit_lookup(ngx_http_hookd_limit_t *ctx, ngx_rbtree_key_t key,
    const u_char *hash)
{
    ngx_int_t                 rc;
    ngx_rbtree_node_t        *node, *sentinel;
    ngx_http_hookd_bucket_t  *b;

    node = ctx->sh->rbtree.root;
    sentinel = ctx->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (key < node->key) {
            node = node->left;
            continue;
        }

        if (key > node->key) {
            node = node->right;
            continue;
        }

        b = (ngx_http_hookd_bucket_t *) node;
        rc = ngx_memcmp(hash, b->hash, HOOKD_KEY_HASH_LEN);

        if (rc == 0) {
            return b;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_http_hookd_limit_refill(ngx_http_hookd_limit_t *ctx,
    ngx_http_hookd_bucket_t *b)
{
    ngx_msec_int_t  elapsed;
    ngx_uint_t      full;

    full = ctx->burst * 1000;
    elapsed = (ngx_msec_int_t) (ngx_current_msec - b->last);

    if (elapsed > 0) {
        /* rate tokens a second are rate thousandths a millisecond */
        if ((ngx_uint_t) elapsed >= full / ctx->rate + 1) {
            b->tokens = full;

        } else {
            b->tokens = ngx_min(full, b->tokens + elapsed * ctx->rate);
        }

        b->last = ngx_current_msec;
    }
}


/* Drops up to two least recently used buckets: full ones, or any if force. */
static void
ngx_http_hookd_limit_expire(ngx_http_hookd_limit_t *ctx, ngx_uint_t force)
{
    ngx_uint_t                n;
    ngx_queue_t              *q;
    ngx_http_hookd_bucket_t  *b;

    for (n = 0; n < 2; n++) {

        if (ngx_queue_empty(&ctx->sh->queue)) {
            return;
        }

        q = ngx_queue_last(&ctx->sh->queue);
        b = ngx_queue_data(q, ngx_http_hookd_bucket_t, queue);

        if (!force) {
            ngx_http_hookd_limit_refill(ctx, b);

            if (b->tokens < ctx->burst * 1000) {
                return;
            }
        }

        ngx_queue_remove(q);
        ngx_rbtree_delete(&ctx->sh->rbtree, &b->node);
        ngx_slab_free_locked(ctx->shpool, b);
    }
}


ngx_int_t
ngx_http_hookd_limit_take(ngx_shm_zone_t *zone, const u_char *key_hash,
    ngx_uint_t *retry_after)
{
    ngx_int_t                 rc;
    ngx_rbtree_key_t          key;
    ngx_http_hookd_limit_t   *ctx = zone->data;
    ngx_http_hookd_bucket_t  *b;

    ngx_memcpy(&key, key_hash, sizeof(ngx_rbtree_key_t));

    ngx_shmtx_lock(&ctx->shpool->mutex);

    b = ngx_http_hookd_limit_lookup(ctx, key, key_hash);

    if (b == NULL) {
        ngx_http_hookd_limit_expire(ctx, 0);

        b = ngx_slab_alloc_locked(ctx->shpool,
                                  sizeof(ngx_http_hookd_bucket_t));
        if (b == NULL) {
            ngx_http_hookd_limit_expire(ctx, 1);

            b = ngx_slab_alloc_locked(ctx->shpool,
                                      sizeof(ngx_http_hookd_bucket_t));
            if (b == NULL) {
                /* a full zone must not stop ingest: let this one pass */
                ngx_shmtx_unlock(&ctx->shpool->mutex);
                ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                              "hookd: rate limit zone \"%V\" is full",
                              &zone->shm.name);
                return NGX_OK;
            }
        }

        b->node.key = key;
        ngx_memcpy(b->hash, key_hash, HOOKD_KEY_HASH_LEN);
        b->tokens = ctx->burst * 1000;
        b->last = ngx_current_msec;

        ngx_rbtree_insert(&ctx->sh->rbtree, &b->node);
        ngx_queue_insert_head(&ctx->sh->queue, &b->queue);

    } else {
        ngx_queue_remove(&b->queue);
        ngx_queue_insert_head(&ctx->sh->queue, &b->queue);
        ngx_http_hookd_limit_refill(ctx, b);
    }

    if (b->tokens >= 1000) {
        b->tokens -= 1000;
        rc = NGX_OK;

    } else {
        *retry_after = ngx_http_hookd_limit_wait(ctx, b);
        rc = NGX_BUSY;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}
