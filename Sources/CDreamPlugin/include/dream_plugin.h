/* The boundary between dream and its plugins: a versioned C ABI.
 *
 * A plugin is a shared library, built on its own (never linked into dream), that exports
 *
 *     uint32_t dream_plugin_abi(void);                      returns DREAM_PLUGIN_ABI it was built against
 *     int32_t  dream_plugin_init(const dream_host *host);  registers what it offers; 0 = success
 *
 * and nothing else is looked up. dream loads it with dlopen, refuses an ABI number outside
 * DREAM_PLUGIN_ABI_OLDEST…DREAM_PLUGIN_ABI, and never unloads it. Only C types cross this line, so a
 * plugin may be written in C, Swift (@_cdecl) or anything that makes C symbols, and it shares no Swift
 * module (no registry, no types) with dream.
 *
 * Memory: everything dream passes is dream's and valid only during the call; what a plugin registers
 * (names, docs) is copied. Errors: a call returns nonzero and, where it can, says why with host->fail.
 *
 * Versions: 1 samplers and functions; 2 adds, at the ends of structures only, dream objects as function
 * arguments (DREAM_OBJECT), score distillation on a model and progress reports from functions. dream loads
 * plugins built for either; a plugin should check that host->abi is at least the version whose calls it
 * uses (not equal to it: newer hosts keep every older call).
 */
#ifndef DREAM_PLUGIN_H
#define DREAM_PLUGIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DREAM_PLUGIN_ABI 2
#define DREAM_PLUGIN_ABI_OLDEST 1

/* ---- Samplers: pure functions of (denoiser, sigma schedule, random stream), as in k-diffusion. ---- */

/* D(x, sigma): the denoised estimate of x (count floats) at noise level sigma, written to out. Returns 0,
 * or nonzero when the host failed or the user cancelled: the sampler must then return that value. */
typedef int32_t (*dream_denoise_fn)(void *call, const float *x, double sigma, float *out);
/* count standard-normal values from the sampler's seeded random stream. */
typedef void (*dream_normal_fn)(void *call, float *out, int64_t count);
/* Reports that step `step` (1-based) is complete: progress and cancellation. Nonzero: return it. */
typedef int32_t (*dream_step_fn)(void *call, int32_t step);

typedef struct dream_sampler_call {
    void *call;                 /* the host's handle for this call: pass it to the functions below */
    dream_denoise_fn denoise;
    dream_normal_fn normal;
    dream_step_fn step;
    float *x;                   /* in: x at sigmas[0] (noise already scaled); out: x at the last sigma */
    int64_t count;              /* floats in x (the whole batch) */
    const double *sigmas;       /* the schedule, decreasing, usually ending in 0 */
    int32_t n_sigmas;
} dream_sampler_call;

typedef int32_t (*dream_sampler_fn)(void *plugin_data, const dream_sampler_call *c);

/* ---- Functions callable from the language as NAMESPACE.NAME(arg, ...): positional numbers, strings,
 * tensors in; a tensor, a number or a string out. ---- */

enum { DREAM_NUMBER = 0, DREAM_STRING = 1, DREAM_TENSOR = 2, DREAM_OBJECT = 3 };

typedef struct dream_value {
    int32_t kind;               /* DREAM_NUMBER, DREAM_STRING, DREAM_TENSOR or (ABI 2) DREAM_OBJECT */
    double number;              /* DREAM_OBJECT: the host's handle for the object, to pass back unchanged */
    const char *string;         /* UTF-8, NUL-terminated; DREAM_OBJECT: its type ("model", "distribution", ...) */
    const float *data;          /* tensor values, row-major (C order), float32 */
    const int64_t *shape;
    int32_t rank;
} dream_value;

/* ABI 2: what score distillation (DreamFusion's SDS) is asked to do. The host draws t uniformly in
 * [t_min, t_max] (fractions of the training schedule) and noise ε from `seed`, and returns the gradient of
 * the images through the VAE encoder of w(t)(ε̂(z_t, t) − ε), ε̂ with classifier-free guidance,
 * w(t) = 1 − ᾱ_t; the UNet is not differentiated. */
typedef struct dream_score_request {
    const float *images;        /* [batch, 3, height, width], values in [0, 1] */
    int64_t batch, height, width;
    const float *conditions;    /* [n_conditions, tokens, dim], n_conditions = batch (one per image) or 1 */
    int64_t n_conditions;
    const float *unconditional; /* [1, tokens, dim]: the encoding of "" */
    int64_t tokens, dim;
    double guidance, t_min, t_max;
    uint64_t seed;
} dream_score_request;

typedef struct dream_function_call {
    void *call;
    int32_t n_args;
    const dream_value *args;
    /* The result, set once: a tensor of `shape` (the returned buffer is filled by the plugin), a number, or a string (copied). */
    float *(*result_tensor)(void *call, const int64_t *shape, int32_t rank);
    void (*result_number)(void *call, double value);
    void (*result_string)(void *call, const char *value);
    /* Why the call failed (copied); then return nonzero. */
    void (*fail)(void *call, const char *message);
    /* ---- ABI 2 ---- */
    /* Score distillation with `model` (an argument of kind DREAM_OBJECT, type "model"): writes the gradient,
     * [batch, 3, height, width], and the mean squared ε̂ − ε. Nonzero: the reason is recorded; return it. */
    int32_t (*score_distillation)(void *call, const dream_value *model, const dream_score_request *request,
                                  float *gradient, double *residual);
    /* Long work: `done` of `total` units under `label` (a progress bar at a terminal). Nonzero means the
     * user interrupted (Ctrl-C): stop and return that value; nothing is reported as a failure. */
    int32_t (*progress)(void *call, const char *label, int64_t done, int64_t total);
} dream_function_call;

typedef int32_t (*dream_function_fn)(void *plugin_data, const dream_function_call *c);

/* ---- What dream offers a plugin while it initialises. ---- */

typedef struct dream_host {
    uint32_t abi;               /* DREAM_PLUGIN_ABI of the host */
    void *host;                 /* pass to the functions below */
    /* The plugin's namespace for its functions (letters, digits, '_'; first call only), and one line about it. */
    int32_t (*set_name)(void *host, const char *name, const char *doc);
    /* A sampler usable as generate(..., sampler: NAME). family picks the step schedule: "euler" (Euler
     * discrete spacing, as k-diffusion's samplers use), "ddim" or "dpm". */
    int32_t (*add_sampler)(void *host, const char *name, const char *family, const char *doc,
                           dream_sampler_fn fn, void *plugin_data);
    /* A function NAMESPACE.NAME with a signature line for :help (e.g. "karras(n, sigma_min, sigma_max, rho)"). */
    int32_t (*add_function)(void *host, const char *name, const char *signature, const char *doc,
                            dream_function_fn fn, void *plugin_data);
    /* Why initialisation failed (copied); then return nonzero from dream_plugin_init. */
    void (*fail)(void *host, const char *message);
} dream_host;

#ifdef __cplusplus
}
#endif

#endif
