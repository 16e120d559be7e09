/* Sandbox ("pause") process of the test bed's pod images: holds the pod's
 * namespaces open, reaps orphaned children, exits on SIGINT/SIGTERM.
 * Built statically by tests/testbed/build-node. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_term(int sig)
{
	(void)sig;
	_exit(0);
}

static void on_child(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0) {
	}
}

int main(void)
{
	struct sigaction sa = { 0 };

	if (getpid() != 1)
		fprintf(stderr, "pause: warning: not running as PID 1\n");
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_term;
	if (sigaction(SIGINT, &sa, NULL) != 0 ||
	        sigaction(SIGTERM, &sa, NULL) != 0)
		return 1;
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	if (sigaction(SIGCHLD, &sa, NULL) != 0)
		return 1;
	for (;;)
		pause();
	return 0;
}
