/*
 * The delivery ceiling: a bare libcurl multi client POSTing the same body
 * N times to a URL with C transfers in flight, over reused keep-alive
 * connections. Prints {"requests", "seconds", "per_second", "rss_kib"}.
 *
 *   curl_client <url> <n> <concurrency> <body file>
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>


static size_t
discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    return size * nmemb;
}


static long
rss_kib(void)
{
    long   kib = 0;
    char   line[256];
    FILE  *f = fopen("/proc/self/status", "r");

    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kib = atol(line + 6);
        }
    }

    if (f) {
        fclose(f);
    }

    return kib;
}


int
main(int argc, char **argv)
{
    int                 i, n, c, started, done, running, left;
    char               *body;
    long                len;
    FILE               *f;
    CURL               *e;
    CURLM              *multi;
    CURLMsg            *msg;
    double              secs;
    struct timespec     t0, t1;
    struct curl_slist  *headers;

    if (argc != 5) {
        fprintf(stderr, "usage: curl_client <url> <n> <concurrency> <body>\n");
        return 2;
    }

    n = atoi(argv[2]);
    c = atoi(argv[3]);

    f = fopen(argv[4], "rb");
    if (f == NULL) {
        perror(argv[4]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    body = malloc((size_t) len + 1);
    if (body == NULL || fread(body, 1, (size_t) len, f) != (size_t) len) {
        return 1;
    }
    fclose(f);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long) c);

    headers = curl_slist_append(NULL, "content-type: application/json");
    headers = curl_slist_append(headers, "expect:");

    clock_gettime(CLOCK_MONOTONIC, &t0);
    started = done = 0;

    for (i = 0; i < c && started < n; i++, started++) {
        e = curl_easy_init();
        curl_easy_setopt(e, CURLOPT_URL, argv[1]);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, len);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
        curl_multi_add_handle(multi, e);
    }

    while (done < n) {
        int  readded = 0;

        curl_multi_perform(multi, &running);

        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE) {
                continue;
            }

            e = msg->easy_handle;
            curl_multi_remove_handle(multi, e);
            done++;

            if (started < n) {
                started++;
                curl_multi_add_handle(multi, e);   /* same handle, reused */
                readded = 1;
            } else {
                curl_easy_cleanup(e);
            }
        }

        if (!readded) {
            curl_multi_poll(multi, NULL, 0, 100, NULL);
        }
    }

    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double) (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;

    printf("{\"requests\": %d, \"seconds\": %.3f, \"per_second\": %.1f, "
           "\"rss_kib\": %ld}\n", n, secs, n / secs, rss_kib());

    curl_slist_free_all(headers);
    curl_multi_cleanup(multi);
    free(body);

    return 0;
}
