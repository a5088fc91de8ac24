// numberflow: send requested items of the "Request phone numbers" catalog item to numberflow.
//
// System Definition > Business Rules > New: Table "Requested Item [sc_req_item]", Advanced,
// When "after", Insert and Update, Condition: current.cat_item.getDisplayValue() ==
// 'Request phone numbers'. Create the REST Message "numberflow" (System Web Services >
// Outbound > REST Message) with endpoint https://<ingress>/v1/tickets/servicenow, method POST
// "send", and Basic auth (a user:password in NUMBERFLOW_SERVICENOW_BASIC_USERS) or a bearer
// token header (NUMBERFLOW_SERVICENOW_TOKENS). Optionally set the system property
// numberflow.hmac_key (same value in NUMBERFLOW_SERVICENOW_HMAC_KEYS) to sign the body.
(function executeRule(current, previous /* null when async */) {
    var variables = {};
    for (var name in current.variables) {
        variables[name] = current.variables[name] + '';
    }
    var changes = {};
    ['approval', 'state'].forEach(function (field) {
        if (current.operation() == 'update' && current[field].changes()) {
            changes[field] = current[field] + '';
        }
    });
    var body = JSON.stringify({
        event_id: gs.generateGUID(),
        timestamp: new GlideDateTime().getNumericValue(),
        operation: current.operation() + '',
        table: current.getTableName(),
        number: current.number + '',
        sys_id: current.sys_id + '',
        cat_item: current.cat_item.getDisplayValue(),
        updated_by: gs.getUserName(),
        changes: changes,
        variables: variables
    });
    var request = new sn_ws.RESTMessageV2('numberflow', 'send');
    request.setRequestHeader('Content-Type', 'application/json');
    request.setRequestBody(body);
    var key = gs.getProperty('numberflow.hmac_key', '');
    if (key) {
        var mac = new GlideCertificateEncryption().generateMac(
            GlideStringUtil.base64Encode(key), 'HmacSHA256', body);
        request.setRequestHeader('X-Numberflow-Hmac-Sha256', mac);
    }
    request.executeAsync();  // retried by ServiceNow's ECC queue; event_id makes a copy harmless
})(current, previous);
