#include "CEditShim.h"
#include <errno.h>
#include <histedit.h>
#include <stdlib.h>
#include <string.h>

struct dream_editor {
    EditLine *el;
    History *hist;
    HistEvent ev;
    char prompt[256];
    dream_complete_fn complete;
    void *complete_context;
};

static char *prompt_fn(EditLine *el) {
    dream_editor *e = NULL;
    el_get(el, EL_CLIENTDATA, &e);
    return e ? e->prompt : "> ";
}

static unsigned char complete_cmd(EditLine *el, int ch) {
    (void)ch;
    dream_editor *e = NULL;
    el_get(el, EL_CLIENTDATA, &e);
    if (!e || !e->complete) return CC_ERROR;
    const LineInfo *li = el_line(el);
    size_t n = (size_t)(li->cursor - li->buffer);
    char *text = malloc(n + 1);
    if (!text) return CC_ERROR;
    memcpy(text, li->buffer, n);
    text[n] = 0;
    int listed = 0;
    char *insert = e->complete(e->complete_context, text, &listed);
    free(text);
    unsigned char result = listed ? CC_REDISPLAY : CC_REFRESH;
    if (insert) {
        if (*insert) el_insertstr(el, insert);
        free(insert);
    } else if (!listed) {
        result = CC_ERROR;   /* beeps: nothing to complete */
    }
    return result;
}

dream_editor *dream_editor_open(const char *program, FILE *in, FILE *out, FILE *err) {
    dream_editor *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->el = el_init(program, in, out, err);
    if (!e->el) { free(e); return NULL; }
    e->hist = history_init();
    history(e->hist, &e->ev, H_SETSIZE, 1000);
    history(e->hist, &e->ev, H_SETUNIQUE, 1);
    strcpy(e->prompt, "> ");
    el_set(e->el, EL_CLIENTDATA, e);
    el_set(e->el, EL_PROMPT, prompt_fn);
    el_set(e->el, EL_EDITOR, "emacs");
    el_set(e->el, EL_HIST, history, e->hist);
    el_set(e->el, EL_ADDFN, "dream-complete", "complete names", complete_cmd);
    el_set(e->el, EL_BIND, "^I", "dream-complete", NULL);
    el_source(e->el, NULL);   /* the user's ~/.editrc, if any */
    return e;
}

void dream_editor_close(dream_editor *e) {
    if (!e) return;
    el_end(e->el);
    history_end(e->hist);
    free(e);
}

void dream_editor_set_prompt(dream_editor *e, const char *prompt) {
    strncpy(e->prompt, prompt, sizeof e->prompt - 1);
    e->prompt[sizeof e->prompt - 1] = 0;
}

void dream_editor_set_completion(dream_editor *e, dream_complete_fn fn, void *context) { e->complete = fn; e->complete_context = context; }

char *dream_editor_gets(dream_editor *e, int *interrupted) {
    int count = 0;
    *interrupted = 0;
    errno = 0;
    const char *line = el_gets(e->el, &count);
    if (!line || count <= 0) {
        if (count < 0 && errno == EINTR) *interrupted = 1;
        return NULL;
    }
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    char *copy = malloc(n + 1);
    memcpy(copy, line, n);
    copy[n] = 0;
    return copy;
}

int dream_history_load(dream_editor *e, const char *path) { return history(e->hist, &e->ev, H_LOAD, path); }
int dream_history_save(dream_editor *e, const char *path) { return history(e->hist, &e->ev, H_SAVE, path); }
void dream_history_add(dream_editor *e, const char *line) { history(e->hist, &e->ev, H_ENTER, line); }
