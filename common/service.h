/* systemd integration (Type=notify): READY=1 once serving, WATCHDOG=1 from
 * the main loop while it is healthy, STOPPING=1 on the way out.  Outside
 * systemd (no NOTIFY_SOCKET) every call is a no-op. */
#ifndef PUFA_SERVICE_H
#define PUFA_SERVICE_H

#include <stdint.h>

void pufa_service_ready(const char *status);
void pufa_service_stopping(void);
/* Pings the watchdog if it is enabled and half its interval has passed
 * since the last ping; cheap enough to call every loop turn. */
void pufa_service_watchdog(void);
/* The watchdog interval in ms (0: disabled), for loop timers. */
int64_t pufa_service_watchdog_ms(void);

#endif
