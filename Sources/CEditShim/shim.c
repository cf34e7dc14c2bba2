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
    /* History browsing by prefix: what was typed, how far back (0: the typed line), what is shown. */
    char *search_prefix;
    int search_index;
    char *search_shown;
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

/* The history entry `index` back (1 = newest), or NULL. */
static const char *history_entry(dream_editor *e, int index) {
    if (history(e->hist, &e->ev, H_FIRST) < 0) return NULL;
    for (int i = 1; i < index; i++) if (history(e->hist, &e->ev, H_NEXT) < 0) return NULL;
    return e->ev.str;
}

static void replace_line(EditLine *el, const char *text) {
    const LineInfo *li = el_line(el);
    el_cursor(el, (int)(li->lastchar - li->cursor));
    li = el_line(el);
    el_deletestr(el, (int)(li->lastchar - li->buffer));
    el_insertstr(el, text);
}

/* Up (step -1 … older) and Down: the next entry, older or newer, that starts with what was typed before
   browsing began; past the newest, the typed text itself. */
static unsigned char browse(EditLine *el, int older) {
    dream_editor *e = NULL;
    el_get(el, EL_CLIENTDATA, &e);
    if (!e) return CC_ERROR;
    const LineInfo *li = el_line(el);
    size_t n = (size_t)(li->lastchar - li->buffer);
    int browsing = e->search_shown && e->search_index > 0 && strlen(e->search_shown) == n && memcmp(e->search_shown, li->buffer, n) == 0;
    if (!browsing) {
        free(e->search_prefix);
        e->search_prefix = malloc(n + 1);
        if (!e->search_prefix) return CC_ERROR;
        memcpy(e->search_prefix, li->buffer, n);
        e->search_prefix[n] = 0;
        e->search_index = 0;
        free(e->search_shown); e->search_shown = NULL;
    }
    size_t plen = strlen(e->search_prefix);
    int i = e->search_index;
    while (1) {
        i += older ? 1 : -1;
        if (i <= 0) {
            e->search_index = 0;
            replace_line(el, e->search_prefix);
            free(e->search_shown); e->search_shown = NULL;
            return CC_REFRESH;
        }
        const char *h = history_entry(e, i);
        if (!h) return CC_ERROR;   /* nothing older: beep, keep the line */
        if (strncmp(h, e->search_prefix, plen) == 0 && !(e->search_shown && strcmp(h, e->search_shown) == 0)) {
            e->search_index = i;
            free(e->search_shown);
            e->search_shown = strdup(h);
            replace_line(el, h);
            return CC_REFRESH;
        }
    }
}

static unsigned char history_up(EditLine *el, int ch) { (void)ch; return browse(el, 1); }
static unsigned char history_down(EditLine *el, int ch) { (void)ch; return browse(el, 0); }

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
    /* Up and Down browse the history entries that start with what is typed (all of them when nothing is). */
    el_set(e->el, EL_ADDFN, "dream-history-up", "older history entry with the typed prefix", history_up);
    el_set(e->el, EL_ADDFN, "dream-history-down", "newer history entry with the typed prefix", history_down);
    el_set(e->el, EL_BIND, "\033[A", "dream-history-up", NULL);
    el_set(e->el, EL_BIND, "\033[B", "dream-history-down", NULL);
    el_set(e->el, EL_BIND, "\033OA", "dream-history-up", NULL);
    el_set(e->el, EL_BIND, "\033OB", "dream-history-down", NULL);
    el_source(e->el, NULL);   /* the user's ~/.editrc, if any */
    return e;
}

void dream_editor_close(dream_editor *e) {
    if (!e) return;
    el_end(e->el);
    history_end(e->hist);
    free(e->search_prefix);
    free(e->search_shown);
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
