/*
 * ngx_http_hookd_module: configuration, worker start-up and the filter that
 * turns every error nginx answers from a hookd location into the contract's
 * JSON instead of an HTML page.
 */

#include "ngx_http_hookd_module.h"


static void *ngx_http_hookd_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_hookd_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_hookd_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_hookd_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_hookd_database(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_hookd_ingest(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_hookd_admin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_hookd_source(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_hookd_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_hookd_init_process(ngx_cycle_t *cycle);
static void ngx_http_hookd_exit_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_hookd_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_hookd_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static const char *ngx_http_hookd_status_code(ngx_uint_t status);


static ngx_conf_num_bounds_t  ngx_http_hookd_pool_size_bounds = {
    ngx_conf_check_num_bounds, 1, 256
};

static ngx_conf_num_bounds_t  ngx_http_hookd_batch_size_bounds = {
    ngx_conf_check_num_bounds, 1, 1000
};


static ngx_command_t  ngx_http_hookd_commands[] = {

    { ngx_string("hookd_database"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_hookd_database,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("hookd_pool_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_hookd_main_conf_t, pool_size),
      &ngx_http_hookd_pool_size_bounds },

    { ngx_string("hookd_batch_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_hookd_main_conf_t, batch_size),
      &ngx_http_hookd_batch_size_bounds },

    { ngx_string("hookd_db_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_hookd_main_conf_t, db_timeout),
      NULL },

    { ngx_string("hookd_replan_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_hookd_main_conf_t, replan_interval),
      NULL },

    { ngx_string("hookd_rate_limit_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE3,
      ngx_http_hookd_limit_zone,
      0,
      0,
      NULL },

    { ngx_string("hookd_ingest"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_hookd_ingest,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("hookd_admin"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_hookd_admin,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("hookd_source"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_hookd_source,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("hookd_secret_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_hookd_secret_key_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("hookd_max_payload"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hookd_loc_conf_t, max_payload),
      NULL },

    { ngx_string("hookd_classify"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hookd_loc_conf_t, classify),
      NULL },

    { ngx_string("hookd_tail_buffer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hookd_loc_conf_t, tail_buffer),
      NULL },

    { ngx_string("hookd_rate_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_hookd_limit,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hookd_loc_conf_t, limit_zone),
      NULL },

    { ngx_string("hookd_auth_failure_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_hookd_limit,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hookd_loc_conf_t, auth_limit_zone),
      NULL },

    { ngx_string("hookd_key_cache_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hookd_loc_conf_t, key_cache_ttl),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_hookd_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_hookd_postconfiguration,      /* postconfiguration */

    ngx_http_hookd_create_main_conf,       /* create main configuration */
    ngx_http_hookd_init_main_conf,         /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_hookd_create_loc_conf,        /* create location configuration */
    ngx_http_hookd_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_http_hookd_module = {
    NGX_MODULE_V1,
    &ngx_http_hookd_module_ctx,            /* module context */
    ngx_http_hookd_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_hookd_init_process,           /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_hookd_exit_process,           /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static void *
ngx_http_hookd_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_hookd_main_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_hookd_main_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->conninfo = { 0, NULL };
     *     conf->pool = NULL;
     */

    conf->pool_size = NGX_CONF_UNSET_UINT;
    conf->batch_size = NGX_CONF_UNSET_UINT;
    conf->db_timeout = NGX_CONF_UNSET_MSEC;
    conf->replan_interval = NGX_CONF_UNSET_MSEC;

    return conf;
}


static char *
ngx_http_hookd_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_hookd_main_conf_t  *hmcf = conf;

    ngx_conf_init_uint_value(hmcf->pool_size, 4);
    ngx_conf_init_uint_value(hmcf->batch_size, 64);
    ngx_conf_init_msec_value(hmcf->db_timeout, 5000);
    ngx_conf_init_msec_value(hmcf->replan_interval, 10000);

    return NGX_CONF_OK;
}


static void *
ngx_http_hookd_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_hookd_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_hookd_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->ingest = NGX_CONF_UNSET;
    conf->admin = NGX_CONF_UNSET;
    conf->source = NGX_CONF_UNSET;
    conf->max_payload = NGX_CONF_UNSET_SIZE;
    conf->classify = NGX_CONF_UNSET;
    conf->key_cache_ttl = NGX_CONF_UNSET_MSEC;
    conf->tail_buffer = NGX_CONF_UNSET_SIZE;
    conf->limit_zone = NGX_CONF_UNSET_PTR;
    conf->auth_limit_zone = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_hookd_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_hookd_loc_conf_t  *prev = parent;
    ngx_http_hookd_loc_conf_t  *conf = child;

    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_hookd_main_conf_t  *hmcf;

    ngx_conf_merge_value(conf->ingest, prev->ingest, 0);
    ngx_conf_merge_value(conf->admin, prev->admin, 0);
    ngx_conf_merge_value(conf->source, prev->source, 0);
    ngx_conf_merge_value(conf->classify, prev->classify, 1);
    ngx_conf_merge_size_value(conf->max_payload, prev->max_payload,
                              1024 * 1024);
    ngx_conf_merge_msec_value(conf->key_cache_ttl, prev->key_cache_ttl,
                              60000);
    ngx_conf_merge_size_value(conf->tail_buffer, prev->tail_buffer,
                              1024 * 1024);
    /* left unset until we know whether the admin API's default applies */
    ngx_conf_merge_ptr_value(conf->limit_zone, prev->limit_zone,
                             NGX_CONF_UNSET_PTR);
    ngx_conf_merge_ptr_value(conf->auth_limit_zone, prev->auth_limit_zone,
                             NULL);

    if (!conf->ingest && !conf->admin && !conf->source) {
        return NGX_CONF_OK;
    }

    if (conf->limit_zone == NGX_CONF_UNSET_PTR) {
        conf->limit_zone = conf->admin ? ngx_http_hookd_limit_admin_zone(cf)
                                       : NULL;
        if (conf->admin && conf->limit_zone == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_hookd_module);

    if (hmcf->conninfo.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" needs \"hookd_database\" at the http "
                           "level", conf->admin ? "hookd_admin"
                                    : conf->source ? "hookd_source"
                                    : "hookd_ingest");
        return NGX_CONF_ERROR;
    }

    if (conf->source && !hmcf->secret_key_set) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"hookd_source\" needs \"hookd_secret_key_file\" "
                           "at the http level: sources' secrets are sealed "
                           "with it");
        return NGX_CONF_ERROR;
    }

    if (conf->admin && !hmcf->secret_key_set) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"hookd_admin\" needs \"hookd_secret_key_file\" "
                           "at the http level, the master key that hookd "
                           "uses too: new endpoint secrets are sealed with "
                           "it");
        return NGX_CONF_ERROR;
    }

    /*
     * The core module merged before us: make nginx itself refuse bodies
     * over hookd_max_payload (chunked ones included) and keep accepted
     * bodies in one memory buffer, never in a temporary file.
     */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->client_max_body_size = conf->max_payload;

    if ((size_t) clcf->client_body_buffer_size < conf->max_payload) {
        clcf->client_body_buffer_size = conf->max_payload;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_hookd_database(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_hookd_main_conf_t *hmcf = conf;

    ngx_str_t  *value;

    if (hmcf->conninfo.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    hmcf->conninfo = value[1];

    return ngx_http_hookd_check_conninfo(cf, &hmcf->conninfo);
}


static char *
ngx_http_hookd_ingest(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_hookd_loc_conf_t *hlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (hlcf->ingest != NGX_CONF_UNSET || hlcf->admin != NGX_CONF_UNSET
        || hlcf->source != NGX_CONF_UNSET)
    {
        return "is duplicate";
    }

    hlcf->ingest = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_hookd_ingest_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_hookd_admin(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_hookd_loc_conf_t *hlcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (hlcf->ingest != NGX_CONF_UNSET || hlcf->admin != NGX_CONF_UNSET
        || hlcf->source != NGX_CONF_UNSET)
    {
        return "is duplicate";
    }

    hlcf->admin = NGX_HTTP_HOOKD_ADMIN_OPERATOR;

    /* hookd_admin portal;: portal session tokens only, for the public side */
    if (cf->args->nelts == 2) {
        value = cf->args->elts;

        if (value[1].len != sizeof("portal") - 1
            || ngx_strncmp(value[1].data, "portal", value[1].len) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": \"hookd_admin\" "
                               "takes nothing, or \"portal\"", &value[1]);
            return NGX_CONF_ERROR;
        }

        hlcf->admin = NGX_HTTP_HOOKD_ADMIN_PORTAL;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_hookd_admin_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_hookd_source(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_hookd_loc_conf_t *hlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (hlcf->ingest != NGX_CONF_UNSET || hlcf->admin != NGX_CONF_UNSET
        || hlcf->source != NGX_CONF_UNSET)
    {
        return "is duplicate";
    }

    hlcf->source = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_hookd_source_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_hookd_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_hookd_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_hookd_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_hookd_init_process(ngx_cycle_t *cycle)
{
    ngx_http_hookd_main_conf_t  *hmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    hmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_hookd_module);
    if (hmcf == NULL || hmcf->conninfo.len == 0) {
        return NGX_OK;
    }

    if (ngx_http_hookd_key_cache_init(cycle) != NGX_OK
        || ngx_http_hookd_source_cache_init(cycle) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_hookd_pool_init(cycle, hmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_hookd_tail_init(cycle, hmcf->pool);
}


static void
ngx_http_hookd_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_hookd_main_conf_t  *hmcf;

    hmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_hookd_module);
    if (hmcf != NULL && hmcf->pool != NULL) {
        ngx_http_hookd_tail_done();
        ngx_http_hookd_pool_done(hmcf->pool);
        hmcf->pool = NULL;
    }
}


static const char *
ngx_http_hookd_status_code(ngx_uint_t status)
{
    switch (status) {
    case NGX_HTTP_BAD_REQUEST:
        return "bad_request";
    case NGX_HTTP_NOT_FOUND:
        return "not_found";
    case NGX_HTTP_NOT_ALLOWED:
        return "method_not_allowed";
    case NGX_HTTP_REQUEST_TIME_OUT:
        return "request_timeout";
    case NGX_HTTP_LENGTH_REQUIRED:
        return "length_required";
    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        return "payload_too_large";
    case NGX_HTTP_SERVICE_UNAVAILABLE:
        return "unavailable";
    default:
        return status < 500 ? "bad_request" : "internal";
    }
}


/*
 * nginx answers some errors itself (a body over client_max_body_size, a
 * broken chunked encoding, a timeout): in hookd locations those answers are
 * rewritten to the contract's JSON.
 */
static ngx_int_t
ngx_http_hookd_header_filter(ngx_http_request_t *r)
{
    u_char                     *json;
    size_t                      len;
    const char                 *code, *hint;
    ngx_uint_t                  status;
    ngx_http_hookd_ctx_t       *ctx;
    ngx_http_hookd_loc_conf_t  *hlcf;
    char                        message[128];

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hookd_module);
    status = r->headers_out.status;

    if (r != r->main || (!hlcf->ingest && !hlcf->admin && !hlcf->source)
        || status < NGX_HTTP_BAD_REQUEST)
    {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_hookd_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ctx->own_response) {
        return ngx_http_next_header_filter(r);
    }

    code = ngx_http_hookd_status_code(status);
    hint = NULL;

    if (status == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
        ngx_snprintf((u_char *) message, sizeof(message) - 1,
                     "the body is larger than %uz bytes (hookd_max_payload)"
                     "%Z", hlcf->max_payload);
        hint = "send a smaller body: keep large data (files, exports) "
               "elsewhere and send a link to it in the payload";

    } else {
        ngx_snprintf((u_char *) message, sizeof(message) - 1,
                     "nginx answered %ui for this request%Z", status);

        if (status == NGX_HTTP_BAD_REQUEST) {
            hint = "nginx could not read the request: send a body of "
                   "Content-Length bytes, or well-formed chunks, with "
                   "well-formed headers";
        }
    }

    json = ngx_http_hookd_error_json(r->pool, code, message, hint, &len);
    if (json == NULL) {
        return NGX_ERROR;
    }

    ctx->error_json.data = json;
    ctx->error_json.len = len;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;
    ngx_http_clear_content_length(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);
    r->headers_out.content_length_n = len;

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_hookd_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t             *b;
    ngx_chain_t           *cl, out;
    ngx_http_hookd_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hookd_module);

    if (ctx == NULL || ctx->error_json.len == 0) {
        return ngx_http_next_body_filter(r, in);
    }

    /* swallow nginx's own page */
    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (ctx->error_sent) {
        return NGX_OK;
    }

    ctx->error_sent = 1;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = ctx->error_json.data;
    b->last = ctx->error_json.data + ctx->error_json.len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}
