/* The C tests of libexectrace. Usage: exectrace_tests [NAME-PREFIX...] */
#include "harness.h"

void register_api_tests(void);
void register_event_tests(void);
void register_thread_tests(void);
void register_batch_tests(void);
void register_rich_tests(void);

int main(int argc, char **argv)
{
	register_api_tests();
	register_event_tests();
	register_thread_tests();
	register_batch_tests();
	register_rich_tests();
	return h_main(argc, argv);
}
