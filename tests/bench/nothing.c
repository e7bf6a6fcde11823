/*
 * nothing.c: the ceiling of the ocspxy-fcgi hit path.  A libfcgi program
 * that reads each request's body and answers with the bytes of FILE
 * (headers and body, as ocspxy-fcgi writes them on a hit), loaded once at
 * start.  No parsing, no Redis, no formatting.  It ends each connection
 * as ocspxy-fcgi does, so that the two differ only in what a hit does.
 *
 * usage: bench-nothing FILE   (under spawn-fcgi, like ocspxy-fcgi)
 */
#include <stdio.h>
#include <stdlib.h>

#include <fcgiapp.h>

int
main(int argc, char *argv[])
{
	static char buf[65536], in[16384];
	FCGX_Request rq;
	FILE *f;
	size_t len;

	if (argc != 2) {
		fprintf(stderr, "usage: bench-nothing file\n");
		return 2;
	}
	if ((f = fopen(argv[1], "rb")) == NULL) {
		perror(argv[1]);
		return 1;
	}
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (len == 0 || FCGX_Init() != 0 || FCGX_InitRequest(&rq, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&rq) >= 0) {
		while (FCGX_GetStr(in, sizeof(in), rq.in) > 0)
			;
		FCGX_PutStr(buf, (int)len, rq.out);
		/* The input read to its end: closed at once, as ocspxy-fcgi
		 * does (http_finish()), without libfcgi's lingering close. */
		if (FCGX_HasSeenEOF(rq.in))
			FCGX_Detach(&rq);
		FCGX_Finish_r(&rq);
	}
	return 0;
}
