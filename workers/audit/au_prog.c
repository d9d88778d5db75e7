/* mailroom-audit's main: everything else is the library mr_audit, which
 * the fuzz harness links too. */
#include "au.h"

int main(int argc, char **argv)
{
	return au_main(argc, argv);
}
