/*
 * gate.h: at most n processes of a host wait on upstream fetches at once,
 * so that the others keep answering hits. A place is a slot file
 * <dir>/upstream-<i> held with flock(2): the kernel gives the place back
 * when the process that held it dies, however it dies.
 */
#ifndef OCSPXY_GATE_H
#define OCSPXY_GATE_H

struct gate;

/*
 * A gate of n places in dir (made, with its slot files, when a place is
 * first asked for; when that fails, logged once, and no limit). NULL when
 * out of memory (logged).
 */
struct gate *gate_new(const char *dir, long n);
void gate_free(struct gate *);

/* Takes a place: 1 taken (gate_leave() gives it back) or no limit, 0
 * all taken. */
int gate_enter(struct gate *);
/* Gives our place back, if we hold one. */
void gate_leave(struct gate *);

#endif
