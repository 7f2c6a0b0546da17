/* Built with -m32 -static by tests/hostile.rs: a 32-bit process whose
 * execv() goes through the compat syscall path. */
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	execv(argv[1], argv + 1);
	return 127;
}
