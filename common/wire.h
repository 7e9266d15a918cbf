/* report <-> protobuf (proto/pufa.proto), and safe decoding of frames from
 * the network: the size is capped before protobuf-c sees the bytes, and
 * every string and enum is checked afterwards by pufa_report_validate(). */
#ifndef PUFA_WIRE_H
#define PUFA_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "pufa.pb-c.h"
#include "report.h"

/* Largest ReportBatch frame accepted (also the aggregator's ZMQ_MAXMSGSIZE). */
#define PUFA_MAX_FRAME_BYTES (4u * 1024u * 1024u)
/* Largest number of reports in one batch. */
#define PUFA_MAX_BATCH_REPORTS 4096u

/* Fills msg (initialised by the caller with PUFA__ACTIVITY_REPORT__INIT)
 * with pointers INTO r: r must outlive msg, and msg owns nothing. */
void pufa_report_to_pb(const pufa_report *r, Pufa__ActivityReport *msg);
/* Copies a decoded message into r (initialised by the caller). */
void pufa_report_from_pb(const Pufa__ActivityReport *msg, pufa_report *r);

/* Encodes one report into a new buffer (caller frees). */
uint8_t *pufa_report_encode(const pufa_report *r, size_t *len);
/* Decodes one report; 0, PUFA_ETOOBIG or PUFA_EPARSE. */
int pufa_report_decode(const uint8_t *buf, size_t len, pufa_report *r);

/* Decodes a ReportBatch frame: PUFA_ETOOBIG over the cap or with too many
 * reports, PUFA_EPARSE when undecodable.  Free with
 * pufa__report_batch__free_unpacked(b, NULL). */
int pufa_batch_decode(const uint8_t *buf, size_t len, Pufa__ReportBatch **out);

#endif
