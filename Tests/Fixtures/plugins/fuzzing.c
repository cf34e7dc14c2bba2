/* A plugin whose every call is spelled by its input: the fuzz tests of dream's plugin loader hand it bytes
 * (fuzzing_input) and load it, call its function and run its sampler. It makes the calls a careless or
 * hostile plugin could make through dream_plugin.h (NULL strings and pointers, invalid names, unknown
 * families, negative or huge sizes, NaN numbers, results set twice, failures after results), and stays
 * honest only where the ABI cannot be checked: it passes back the handles it was given, and a buffer it
 * hands over is as long as it says.
 *
 * The input is a program: the first byte picks the ABI number, then operations, one byte each (modulo the
 * count of choices), with their operands; init ends at a "return", the rest drives the function and the
 * sampler each time they are called. */
#include "dream_plugin.h"
#include <stdlib.h>
#include <string.h>

static const uint8_t *in;
static size_t len, pos;
static char strings[8][256];
static int next_string;

void fuzzing_input(const uint8_t *data, size_t size) { in = data; len = size; pos = 0; }

static int more(void) { return pos < len; }
static uint8_t byte(void) { return pos < len ? in[pos++] : 0; }
static int64_t small(void) { return (int64_t)(int8_t)byte(); }
static int64_t wide(void) { uint64_t v = 0; for (int i = 0; i < 8; i++) v = (v << 8) | byte(); return (int64_t)v; }
static double number(void) {
    switch (byte() % 4) {
    case 0: return (double)small();
    case 1: return (double)small() / 8;
    default: { int64_t v = wide(); double d; memcpy(&d, &v, 8); return d; }   /* NaN, ±inf, huge, tiny */
    }
}
/* A size: mostly small (negative ones included), sometimes any 64-bit value. */
static int64_t size(void) { return byte() % 4 == 0 ? wide() : small() % 17; }
/* A string of up to 254 bytes (any bytes: invalid UTF-8, early NUL), or NULL (length byte 255). */
static const char *string(void) {
    uint8_t n = byte();
    if (n == 255) return NULL;
    char *s = strings[next_string++ % 8];
    size_t i = 0;
    for (; i < n && pos < len; i++) s[i] = (char)in[pos++];
    s[i] = 0;
    return s;
}

uint32_t dream_plugin_abi(void) {
    static const uint32_t choices[] = {2, 1, 2, 0, 3, 99, 0xffffffffu, 2};
    return choices[byte() % 8];
}

static int32_t function(void *data, const dream_function_call *c);
static int32_t sampler(void *data, const dream_sampler_call *c);

int32_t dream_plugin_init(const dream_host *h) {
    while (more()) {
        switch (byte() % 5) {
        case 0: { const char *name = string(), *doc = string(); h->set_name(h->host, name, doc); break; }
        case 1: {
            const char *name = string(), *family = string(), *doc = string();
            h->add_sampler(h->host, name, family, doc, byte() % 8 ? sampler : NULL, NULL);
            break;
        }
        case 2: {
            const char *name = string(), *signature = string(), *doc = string();
            h->add_function(h->host, name, signature, doc, byte() % 8 ? function : NULL, NULL);
            break;
        }
        case 3: h->fail(h->host, string()); break;
        default: return byte() % 4 ? 0 : (int32_t)small();
        }
    }
    return 0;
}

static int32_t function(void *data, const dream_function_call *c) {
    (void)data;
    while (more()) {
        switch (byte() % 8) {
        case 0: {
            int32_t rank = (int32_t)(small() % 7);
            int64_t shape[8];
            int64_t count = 1, honest = 1, overflow = 0;
            for (int i = 0; i < 8; i++) shape[i] = size();
            for (int i = 0; i < rank && i < 8; i++) {
                if (shape[i] < 0) honest = 0;
                else if (__builtin_mul_overflow(count, shape[i], &count)) overflow = 1;
            }
            /* A result that fits in memory is given however large, and zeroing gigabytes takes seconds: the
             * sizes asked are small (up to 64 MB) or ones that cannot fit (a terabyte or more, negative,
             * overflowing), which the host must refuse. */
            if (honest && !overflow && count > (1 << 24) && count < ((int64_t)1 << 38)) break;
            float *out = c->result_tensor(c->call, byte() % 8 ? shape : NULL, rank);
            /* Fills what it asked for; the host must have refused any size it could not give. */
            if (out && honest && !overflow && count <= 1 << 22) for (int64_t i = 0; i < count; i++) out[i] = (float)number();
            break;
        }
        case 1: c->result_number(c->call, number()); break;
        case 2: c->result_string(c->call, string()); break;
        case 3: c->fail(c->call, string()); break;
        case 4: {
            const char *label = string();
            int64_t done = size(), total = size();
            if (c->progress(c->call, label, done, total)) return 1;
            break;
        }
        case 5: {
            /* Score distillation asked of something that is not a model (no model is passed here). */
            dream_value fake = {DREAM_OBJECT, number(), string(), NULL, NULL, 0};
            dream_score_request request;
            memset(&request, 0, sizeof request);
            request.batch = size(); request.height = size(); request.width = size();
            float gradient[16];
            double residual;
            const dream_value *model = byte() % 2 ? &fake : (c->n_args > 0 ? &c->args[0] : NULL);
            c->score_distillation(c->call, model, byte() % 2 ? &request : NULL, gradient, &residual);
            break;
        }
        case 6: {
            /* Reads every argument as the host describes it. */
            double sum = 0;
            for (int32_t a = 0; a < c->n_args; a++) {
                const dream_value *v = &c->args[a];
                if (v->kind == DREAM_TENSOR) {
                    int64_t n = 1;
                    for (int32_t i = 0; i < v->rank; i++) n *= v->shape[i];
                    for (int64_t i = 0; i < n; i++) sum += v->data[i];
                } else if (v->kind == DREAM_STRING || v->kind == DREAM_OBJECT) {
                    sum += (double)strlen(v->string);
                } else sum += v->number;
            }
            if (byte() % 2) c->result_number(c->call, sum);
            break;
        }
        default: return byte() % 4 ? 0 : (int32_t)small();
        }
    }
    return 0;
}

static int32_t sampler(void *data, const dream_sampler_call *c) {
    (void)data;
    float *scratch = malloc(sizeof(float) * (size_t)(c->count > 0 ? c->count : 1));
    int32_t status = 0;
    while (more() && status == 0) {
        switch (byte() % 6) {
        case 0: {
            const float *x = byte() % 8 ? c->x : NULL;
            float *out = byte() % 8 ? scratch : NULL;
            double sigma = byte() % 2 ? c->sigmas[byte() % (c->n_sigmas > 0 ? c->n_sigmas : 1)] : number();
            status = c->denoise(c->call, x, sigma, out);
            break;
        }
        case 1: {
            int64_t n = size();
            if (n > c->count) n = c->count;   /* its own buffer's length */
            c->normal(c->call, byte() % 8 ? scratch : NULL, n);
            break;
        }
        case 2: status = c->step(c->call, (int32_t)small()); break;
        case 3: if (c->count > 0) c->x[byte() % c->count] = (float)number(); break;
        case 4: { double s = 0; for (int32_t i = 0; i < c->n_sigmas; i++) s += c->sigmas[i]; if (c->count > 0) c->x[0] = (float)s; break; }
        default: status = byte() % 4 ? 0 : (int32_t)small(); free(scratch); return status;
        }
    }
    free(scratch);
    return status;
}
