package checks

// Answer functions of the client.* facts (see answers.go).

func ansClientSMB1Only(c *answerCtx) (string, bool) {
	if c.client.MaxDialect == "" {
		return "", false
	}
	return yesNo(rank(c.client.MaxDialect) <= rank("NT1")), true
}
